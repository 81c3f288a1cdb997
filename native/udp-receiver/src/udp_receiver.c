// UDP receive for ipfix-mediator, the part node:dgram cannot do cheaply.
//
// node:dgram reads one datagram per recvmsg(2) and hands each to JavaScript on its own: a fresh backing
// store, a Buffer, an rinfo object and an address string per datagram, ~7.5 us of CPU each on the
// project's machines. Here one readiness of the socket drains up to ROUNDS x VLEN datagrams with
// recvmmsg(2), packs them into the caller's batch buffer and calls JavaScript once per full batch.
//
// Batch layout (the one src/pipeline/datagram-batch.ts reads): header count u32 LE, used u32 LE, then per
// datagram: port u16 LE | address length u8 | address text | length u32 LE | datagram octets.
//
// Sockets and receivers are apart: socket() makes and binds a descriptor (SO_REUSEPORT optional, then
// shardBy() attaches a classic BPF program that picks the group's socket by exporter), and open() polls a
// descriptor from the libuv loop of the calling thread (main thread or worker), so the callback runs on
// that thread like any I/O callback. Descriptors are process-wide: the main thread can make them and
// hand each to a worker thread, and a worker that dies leaves its socket, and its place in the group, to
// the next one. SO_MEMINFO reads the socket's drop counter (sk_drops:
// datagrams the kernel dropped, almost always because the receive buffer was full) so the gateway can
// count them: a loss nothing in user space would otherwise see.

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#define VLEN 64
#define ROUNDS 8
#define SLOT 65536 /* largest UDP payload (65,507 over IPv4) fits */
#define HEADER 8
#define ADDRESS_TEXT INET6_ADDRSTRLEN

typedef struct receiver {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int polling;
  int closed;
  napi_ref on_batch;
  /* optional: told of a failed receive (errno), which ends that readiness's reading */
  napi_ref on_error;
  napi_ref batch_ref;
  napi_ref taken_ref;
  /* optional: where the count of datagrams taken from the socket is kept for another thread to read */
  double *taken;
  /* a JavaScript call failed (the thread is terminating): read nothing more this time */
  int halted;
  napi_async_context async;
  uint8_t *batch;
  size_t batch_size;
  uint32_t count;
  uint32_t used;
  /* recvmmsg slots */
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  struct sockaddr_storage from[VLEN];
  uint8_t *slots;
  /* the last source formatted, to skip inet_ntop for a run from one exporter */
  struct sockaddr_storage last_from;
  socklen_t last_from_len;
  char last_text[ADDRESS_TEXT];
  uint8_t last_text_len;
  uint16_t last_port;
  /* datagrams larger than a slot, dropped (read by truncated()) */
  double truncated;
} receiver_t;

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", syscall, strerror(err));
  napi_value code, msg, error;
  const char *name = NULL;
  switch (err) {
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
    case EACCES: name = "EACCES"; break;
    case EINVAL: name = "EINVAL"; break;
    case EAFNOSUPPORT: name = "EAFNOSUPPORT"; break;
    default: name = "ESOCKET"; break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_value errno_value;
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

/* Calls fn(arg) from the poll callback, as an asynchronous resource of its own. */
static void call_js(receiver_t *r, napi_ref fn_ref, uint32_t arg) {
  napi_env env = r->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, argv[1], result;
  napi_get_reference_value(env, fn_ref, &fn);
  napi_get_global(env, &recv); /* MakeCallback needs an object as `this` */
  napi_create_uint32(env, arg, &argv[0]);
  napi_status s = napi_make_callback(env, r->async, recv, fn, 1, argv, &result);
  if (s != napi_ok) {
    /* A worker being terminated fails every call from here on: stop taking datagrams the next reader of
       this socket could still have. An exception of the callback's own goes where uncaught ones go. */
    r->halted = 1;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Hands the packed batch to JavaScript; afterwards the buffer is free to fill again. */
static void flush(receiver_t *r) {
  if (r->count == 0) return;
  put_u32(r->batch, r->count);
  put_u32(r->batch + 4, r->used);
  uint32_t count = r->count;
  r->count = 0;
  r->used = HEADER;
  call_js(r, r->on_batch, count);
}

/* A receive failed for a reason other than "nothing waiting": the gateway logs and counts it (what is
   waiting stays in the socket and is read at the next readiness). */
static void report_error(receiver_t *r, int err) {
  if (r->on_error) call_js(r, r->on_error, (uint32_t)err);
}

/* The source address as text, as node:dgram gives it (inet_ntop; IPv4-mapped IPv6 stays ::ffff:a.b.c.d). */
static void source_text(receiver_t *r, const struct sockaddr_storage *from, socklen_t len) {
  if (len == r->last_from_len && memcmp(from, &r->last_from, len) == 0) return;
  memcpy(&r->last_from, from, len);
  r->last_from_len = len;
  const char *ok = NULL;
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    ok = inet_ntop(AF_INET, &a->sin_addr, r->last_text, sizeof r->last_text);
    r->last_port = ntohs(a->sin_port);
  } else if (from->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
    ok = inet_ntop(AF_INET6, &a->sin6_addr, r->last_text, sizeof r->last_text);
    r->last_port = ntohs(a->sin6_port);
  }
  if (!ok) {
    r->last_text[0] = '\0';
    r->last_port = 0;
  }
  r->last_text_len = (uint8_t)strlen(r->last_text);
}

static void pack(receiver_t *r, const uint8_t *datagram, uint32_t length) {
  size_t need = 2 + 1 + r->last_text_len + 4 + (size_t)length;
  if (r->used + need > r->batch_size) flush(r);
  if (r->closed || r->halted) return; /* JavaScript closed the receiver from the callback, or cannot run */
  uint8_t *p = r->batch + r->used;
  p[0] = r->last_port & 0xff;
  p[1] = r->last_port >> 8;
  p[2] = r->last_text_len;
  memcpy(p + 3, r->last_text, r->last_text_len);
  p += 3 + r->last_text_len;
  put_u32(p, length);
  memcpy(p + 4, datagram, length);
  r->used += (uint32_t)need;
  r->count++;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  receiver_t *r = (receiver_t *)handle->data;
  if (r->closed) return;
  if (status < 0) {
    /* libuv's codes are negative errno values on Unix */
    report_error(r, -status);
    return;
  }
  r->halted = 0;
  for (int round = 0; round < ROUNDS && !r->closed && !r->halted; round++) {
    for (int i = 0; i < VLEN; i++) {
      r->msgs[i].msg_hdr.msg_namelen = sizeof r->from[i];
      r->msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(r->fd, r->msgs, VLEN, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err != EAGAIN && err != EWOULDBLOCK) {
        flush(r); /* what was read before goes first */
        report_error(r, err);
        return;
      }
      break;
    }
    if (n > 0 && r->taken) r->taken[0] += n;
    for (int i = 0; i < n && !r->closed && !r->halted; i++) {
      struct msghdr *h = &r->msgs[i].msg_hdr;
      if (h->msg_flags & MSG_TRUNC) {
        r->truncated++;
        continue;
      }
      source_text(r, &r->from[i], h->msg_namelen);
      pack(r, r->slots + (size_t)i * SLOT, r->msgs[i].msg_len);
    }
    if (n < VLEN) break;
  }
  if (!r->closed && !r->halted) flush(r);
}

static void free_receiver(receiver_t *r) {
  free(r->slots);
  free(r);
}

static void on_closed(uv_handle_t *handle) {
  receiver_t *r = (receiver_t *)handle->data;
  free_receiver(r);
}

/* Stops polling and lets go of the JavaScript values; memory goes when libuv is done. The descriptor
   stays open: it belongs to whoever called socket(). */
static void close_receiver(receiver_t *r) {
  if (r->closed) return;
  r->closed = 1;
  napi_env env = r->env;
  if (r->on_batch) napi_delete_reference(env, r->on_batch);
  if (r->on_error) napi_delete_reference(env, r->on_error);
  r->on_error = NULL;
  if (r->batch_ref) napi_delete_reference(env, r->batch_ref);
  if (r->taken_ref) napi_delete_reference(env, r->taken_ref);
  r->taken_ref = NULL;
  r->taken = NULL;
  if (r->async) napi_async_destroy(env, r->async);
  r->on_batch = r->batch_ref = NULL;
  r->async = NULL;
  r->fd = -1;
  if (r->polling) {
    uv_poll_stop(&r->poll);
    uv_close((uv_handle_t *)&r->poll, on_closed);
  }
}

static void cleanup_hook(void *arg) {
  receiver_t *r = (receiver_t *)arg;
  int polling = r->polling;
  close_receiver(r);
  if (!polling) free_receiver(r);
}

static receiver_t *unwrap(napi_env env, napi_value v) {
  receiver_t *r = NULL;
  if (napi_get_value_external(env, v, (void **)&r) != napi_ok || !r) {
    napi_throw_type_error(env, NULL, "not a UDP receiver");
    return NULL;
  }
  return r;
}

static int fd_arg(napi_env env, napi_value v) {
  int32_t fd = -1;
  if (napi_get_value_int32(env, v, &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "not a socket descriptor");
    return -1;
  }
  return fd;
}

static void finalize(napi_env env, void *data, void *hint) {
  /* Nothing: an unclosed receiver is closed by the environment's cleanup hook, which still owns it. */
}

// socket(family: 4 | 6, address: string, port: number, reusePort: boolean) -> descriptor
static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "socket(family, address, port, reusePort)");
    return NULL;
  }
  int32_t family, port;
  bool reuse_port;
  char address[INET6_ADDRSTRLEN + 1];
  size_t address_len;
  napi_get_value_int32(env, argv[0], &family);
  if (napi_get_value_string_latin1(env, argv[1], address, sizeof address, &address_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  napi_get_value_int32(env, argv[2], &port);
  napi_get_value_bool(env, argv[3], &reuse_port);

  struct sockaddr_storage at;
  socklen_t at_len;
  memset(&at, 0, sizeof at);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&at;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &a->sin6_addr) != 1) return throw_errno(env, "inet_pton", EINVAL);
    at_len = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&at;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &a->sin_addr) != 1) return throw_errno(env, "inet_pton", EINVAL);
    at_len = sizeof *a;
  }

  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, zero = 0;
  /* as node:dgram's udp6: dual stack, IPv4 sources appear as ::ffff:a.b.c.d */
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "setsockopt(SO_REUSEPORT)", e);
  }
  if (bind(fd, (struct sockaddr *)&at, at_len) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  napi_value v;
  napi_create_int32(env, fd, &v);
  return v;
}

// closeSocket(descriptor)
static napi_value js_close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = fd_arg(env, argv[0]);
  if (fd >= 0) close(fd);
  return NULL;
}

// shardBy(descriptor, shards, byAgent): the SO_REUSEPORT group of `descriptor` hands each datagram to its
// socket number hash(exporter) % shards, in the order the group's sockets were bound. The exporter is, with
// byAgent, an sFlow v5 datagram's agent address (so an agent's datagrams meet whatever their source),
// otherwise the source address (IPv4, or the IPv6 source folded to 32 bits). Classic BPF, run by the
// kernel on the UDP payload (SKF_NET_OFF reaches the IP header).
static napi_value js_shard_by(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = fd_arg(env, argv[0]);
  if (fd < 0) return NULL;
  bool by_agent = false;
  if (argc >= 3) napi_get_value_bool(env, argv[2], &by_agent);
  uint32_t shards;
  if (napi_get_value_uint32(env, argv[1], &shards) != napi_ok || shards == 0) {
    napi_throw_range_error(env, NULL, "shards must be a positive number");
    return NULL;
  }
  /* A = the exporter's 32-bit key, then mixed (x ^= x >> 16; x *= 0x45d9f3b; x ^= x >> 16) and taken
     modulo `shards`. Jump offsets count from the next instruction. */
  const uint32_t NET = (uint32_t)SKF_NET_OFF;
  struct sock_filter code[] = {
    /* 0  */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    /* 1  */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 28, 0, 18),  /* shorter than an sFlow header: by source (20) */
    /* 2  */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),           /* sFlow version 5? */
    /* 3  */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 5, 0, 16),
    /* 4  */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),           /* agent address type */
    /* 5  */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2),
    /* 6  */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),           /* IPv4 agent */
    /* 7  */ BPF_JUMP(BPF_JMP | BPF_JA, 27, 0, 0),            /* -> mix (35) */
    /* 8  */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 11),   /* not IPv6 either: by source (20) */
    /* 9  */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),           /* IPv6 agent: its four words xored */
    /* 10 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
    /* 12 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 13 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 14 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16),
    /* 15 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 16 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 17 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 20),
    /* 18 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 19 */ BPF_JUMP(BPF_JMP | BPF_JA, 15, 0, 0),            /* -> mix (35) */
    /* 20 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NET),         /* by source: the IP version */
    /* 21 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
    /* 22 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 2),
    /* 23 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET + 12),    /* IPv4 source */
    /* 24 */ BPF_JUMP(BPF_JMP | BPF_JA, 10, 0, 0),            /* -> mix (35) */
    /* 25 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET + 8),     /* IPv6 source: its four words xored */
    /* 26 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 27 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET + 12),
    /* 28 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 29 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 30 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET + 16),
    /* 31 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 32 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 33 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NET + 20),
    /* 34 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 35 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),                 /* mix */
    /* 36 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
    /* 37 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 38 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x45d9f3b),
    /* 39 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
    /* 40 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
    /* 41 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
    /* 42 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards),
    /* 43 */ BPF_STMT(BPF_RET | BPF_A, 0),
  };
  if (!by_agent) code[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 18, 0, 0); /* straight to by source (20) */
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) < 0) return throw_errno(env, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)", errno);
  return NULL;
}

// open(descriptor, batch: Uint8Array, onBatch: (count) => void, taken?: Float64Array,
//      onError?: (errno) => void) -> receiver, polled by this thread's loop. `taken[0]` (shared memory,
// when given) grows by every datagram taken from the socket, before JavaScript sees it: a thread that dies
// mid-batch leaves an exact count behind. onError hears of a failed recvmmsg(2) or poll.
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "open(descriptor, batch, onBatch)");
    return NULL;
  }
  int fd = fd_arg(env, argv[0]);
  if (fd < 0) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value arraybuffer;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &arraybuffer, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "batch must be a Uint8Array");
    return NULL;
  }
  if (length < HEADER + 2 + 1 + INET6_ADDRSTRLEN + 4 + SLOT) {
    napi_throw_range_error(env, NULL, "batch must hold at least one datagram of 65,536 octets");
    return NULL;
  }
  receiver_t *r = calloc(1, sizeof *r);
  uint8_t *slots = malloc((size_t)VLEN * SLOT);
  if (!r || !slots) {
    free(r);
    free(slots);
    return throw_errno(env, "malloc", ENOMEM);
  }
  r->env = env;
  r->fd = fd;
  r->slots = slots;
  r->batch = (uint8_t *)data;
  r->batch_size = length;
  r->used = HEADER;
  r->last_from_len = (socklen_t)-1;
  for (int i = 0; i < VLEN; i++) {
    r->iov[i].iov_base = slots + (size_t)i * SLOT;
    r->iov[i].iov_len = SLOT;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_name = &r->from[i];
  }
  napi_create_reference(env, argv[1], 1, &r->batch_ref);
  if (argc >= 4) {
    napi_valuetype t;
    napi_typeof(env, argv[3], &t);
    if (t == napi_object) {
      napi_typedarray_type tt;
      size_t tl;
      void *td;
      napi_value tab;
      size_t to;
      if (napi_get_typedarray_info(env, argv[3], &tt, &tl, &td, &tab, &to) != napi_ok || tt != napi_float64_array || tl < 1) {
        close_receiver(r);
        free_receiver(r);
        napi_throw_type_error(env, NULL, "taken must be a Float64Array");
        return NULL;
      }
      r->taken = (double *)td;
      napi_create_reference(env, argv[3], 1, &r->taken_ref);
    }
  }
  napi_create_reference(env, argv[2], 1, &r->on_batch);
  if (argc >= 5) {
    napi_valuetype t;
    napi_typeof(env, argv[4], &t);
    if (t == napi_function) napi_create_reference(env, argv[4], 1, &r->on_error);
  }
  napi_value resource_name;
  napi_create_string_utf8(env, "ipfix-mediator:udp-receiver", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &r->async);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &r->poll, fd) != 0) {
    close_receiver(r);
    free_receiver(r);
    return throw_errno(env, "uv_poll_init", EBADF);
  }
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, on_readable);
  r->polling = 1;
  napi_add_env_cleanup_hook(env, cleanup_hook, r);

  napi_value handle;
  napi_create_external(env, r, finalize, NULL, &handle);
  return handle;
}

// close(receiver): stops polling (the descriptor stays open)
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = unwrap(env, argv[0]);
  if (!r) return NULL;
  if (!r->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, r);
    close_receiver(r);
  }
  return NULL;
}

// pause(receiver, paused): stops or resumes polling (backpressure: the socket's buffer fills meanwhile, and
// what overflows it is counted by the kernel as drops)
static napi_value js_pause(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = unwrap(env, argv[0]);
  if (!r) return NULL;
  bool paused = false;
  napi_get_value_bool(env, argv[1], &paused);
  if (r->closed) return NULL;
  if (paused) uv_poll_stop(&r->poll);
  else uv_poll_start(&r->poll, UV_READABLE, on_readable);
  return NULL;
}

// receiveBuffer(descriptor, size) -> what SO_RCVBUF reads back (Linux: twice what it granted, socket(7));
// size 0 only reads
static napi_value js_receive_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = fd_arg(env, argv[0]);
  if (fd < 0) return NULL;
  int32_t size;
  napi_get_value_int32(env, argv[1], &size);
  if (size > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  int got = 0;
  socklen_t len = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0) return throw_errno(env, "getsockopt(SO_RCVBUF)", errno);
  napi_value v;
  napi_create_int32(env, got, &v);
  return v;
}

// port(descriptor) -> the bound port
static napi_value js_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = fd_arg(env, argv[0]);
  if (fd < 0) return NULL;
  struct sockaddr_storage at;
  socklen_t len = sizeof at;
  if (getsockname(fd, (struct sockaddr *)&at, &len) < 0) return throw_errno(env, "getsockname", errno);
  int port = ntohs(at.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&at)->sin6_port : ((struct sockaddr_in *)&at)->sin_port);
  napi_value v;
  napi_create_int32(env, port, &v);
  return v;
}

// drops(descriptor) -> the socket's sk_drops (datagrams the kernel dropped, a u32 that wraps), or -1 when
// SO_MEMINFO is not there
static napi_value js_drops(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd = fd_arg(env, argv[0]);
  if (fd < 0) return NULL;
  uint32_t meminfo[SK_MEMINFO_VARS];
  socklen_t len = sizeof meminfo;
  double drops = -1;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(uint32_t)) drops = meminfo[SK_MEMINFO_DROPS];
  napi_value v;
  napi_create_double(env, drops, &v);
  return v;
}

// truncated(receiver) -> datagrams dropped so far for not fitting a 65,536-octet slot
static napi_value js_truncated(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  receiver_t *r = unwrap(env, argv[0]);
  if (!r) return NULL;
  napi_value v;
  napi_create_double(env, r->truncated, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
    {"closeSocket", NULL, js_close_socket, NULL, NULL, NULL, napi_default, NULL},
    {"shardBy", NULL, js_shard_by, NULL, NULL, NULL, napi_default, NULL},
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
    {"receiveBuffer", NULL, js_receive_buffer, NULL, NULL, NULL, napi_default, NULL},
    {"port", NULL, js_port, NULL, NULL, NULL, napi_default, NULL},
    {"drops", NULL, js_drops, NULL, NULL, NULL, napi_default, NULL},
    {"truncated", NULL, js_truncated, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
