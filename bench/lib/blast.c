/*
 * The benchmark's fast sender (bench/lib/blast.mjs builds and drives it): sends a pool of UDP datagrams
 * round and round, each from its exporter's own loopback address, at a given rate in records per second
 * for a given time, with sendmmsg(2) in 1 ms slices. One Node send() costs several microseconds on top of
 * the kernel's own work; on a 2-core machine whatever the sender spends is taken from the receiver under
 * test, so the sender is in C.
 *
 *   blast POOL PORT RATE SECONDS SRCPORT
 *
 * Every exporter's socket is bound to (its address, SRCPORT) with SO_REUSEADDR, the source port the
 * harness's own warm-up sockets use too: the receiver sees one exporter (address and port) throughout,
 * so the Templates it learned in the warm-up apply.
 *
 * POOL: "BPOOL1\n", then u32 exporter count, per exporter a u32 IPv4 address (network order), u32 item
 * count, then per item: u32 exporter index, u32 records, u32 length, the datagram (all u32 little-endian
 * except the addresses). Writes {"datagrams":N,"records":N,"seconds":S} on stdout when done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

struct item {
	uint32_t exporter, records, length;
	unsigned char *data;
};

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static uint32_t u32(FILE *f) {
	uint32_t v;
	if (fread(&v, 4, 1, f) != 1) {
		fprintf(stderr, "blast: pool file truncated\n");
		exit(2);
	}
	return v;
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: blast POOL PORT RATE SECONDS SRCPORT\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	char magic[7];
	if (!f || fread(magic, 1, 7, f) != 7 || memcmp(magic, "BPOOL1\n", 7) != 0) {
		fprintf(stderr, "blast: %s is not a pool file\n", argv[1]);
		return 2;
	}
	int port = atoi(argv[2]);
	double rate = atof(argv[3]), seconds = atof(argv[4]);
	int srcport = atoi(argv[5]);

	uint32_t exporters = u32(f);
	int *fd = calloc(exporters, sizeof(int));
	for (uint32_t e = 0; e < exporters; e++) {
		struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(srcport)}, dst = {.sin_family = AF_INET, .sin_port = htons(port)};
		fread(&src.sin_addr.s_addr, 4, 1, f);
		dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int sndbuf = 4 << 20, one = 1;
		fd[e] = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(fd[e], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
		setsockopt(fd[e], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd[e], (struct sockaddr *)&src, sizeof src) < 0 || connect(fd[e], (struct sockaddr *)&dst, sizeof dst) < 0) {
			perror("blast: bind/connect");
			return 1;
		}
	}
	uint32_t count = u32(f);
	struct item *items = calloc(count, sizeof *items);
	for (uint32_t i = 0; i < count; i++) {
		items[i].exporter = u32(f);
		items[i].records = u32(f);
		items[i].length = u32(f);
		items[i].data = malloc(items[i].length);
		if (items[i].exporter >= exporters || fread(items[i].data, 1, items[i].length, f) != items[i].length) {
			fprintf(stderr, "blast: bad item %u\n", i);
			return 2;
		}
	}
	fclose(f);

	/* Per exporter, a batch of messages gathered in a slice, sent with one sendmmsg. */
	struct mmsghdr(*msgs)[BATCH] = calloc(exporters, sizeof *msgs);
	struct iovec(*iovs)[BATCH] = calloc(exporters, sizeof *iovs);
	int *fill = calloc(exporters, sizeof(int));
	uint64_t sent = 0, records = 0;
	double start = now(), end = start + seconds;
	uint32_t i = 0;

	for (;;) {
		double t = now();
		if (t >= end) break;
		uint64_t due = (uint64_t)((t - start) * rate);
		while (records < due) {
			struct item *it = &items[i];
			int e = it->exporter, n = fill[e];
			iovs[e][n].iov_base = it->data;
			iovs[e][n].iov_len = it->length;
			memset(&msgs[e][n], 0, sizeof msgs[e][n]);
			msgs[e][n].msg_hdr.msg_iov = &iovs[e][n];
			msgs[e][n].msg_hdr.msg_iovlen = 1;
			records += it->records;
			sent++;
			if (++fill[e] == BATCH) {
				for (int done = 0; done < BATCH;) {
					int r = sendmmsg(fd[e], msgs[e] + done, BATCH - done, 0);
					if (r < 0) {
						if (errno == EINTR) continue;
						if (errno == EAGAIN || errno == ENOBUFS) break; /* like a full NIC queue: dropped */
						perror("blast: sendmmsg");
						return 1;
					}
					done += r;
				}
				fill[e] = 0;
			}
			if (++i == count) i = 0;
			if ((sent & 63) == 0 && now() >= end) break;
		}
		/* Flush what the slice gathered, then wait for the next millisecond. */
		for (uint32_t e = 0; e < exporters; e++) {
			for (int done = 0; done < fill[e];) {
				int r = sendmmsg(fd[e], msgs[e] + done, fill[e] - done, 0);
				if (r < 0) {
					if (errno == EINTR) continue;
					break;
				}
				done += r;
			}
			fill[e] = 0;
		}
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	printf("{\"datagrams\":%llu,\"records\":%llu,\"seconds\":%.6f}\n", (unsigned long long)sent, (unsigned long long)records, now() - start);
	return 0;
}
