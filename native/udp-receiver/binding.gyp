{
  "targets": [
    {
      "target_name": "udp_receiver",
      "sources": ["src/udp_receiver.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
