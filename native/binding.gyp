{
  "targets": [
    {
      "target_name": "tunnel_native",
      "sources": [
        "src/addon.cc",
        "src/batch-view.cc",
        "src/descriptor-close-batch.cc",
        "src/endpoint-forwarding.cc",
        "src/esp-aead-cipher.cc",
        "src/esp-batch.cc",
        "src/esp-binding.cc",
        "src/esp-security-association.cc",
        "src/fast-route-counters.cc",
        "src/fast-route.cc",
        "src/forwarded-wakeups.cc",
        "src/forwarding-thread.cc",
        "src/packet-endpoint.cc",
        "src/open-descriptors.cc",
        "src/rtnetlink-batch.cc",
        "src/rtnetlink-binding.cc",
        "src/rtnetlink-request.cc",
        "src/shared-device-routes.cc",
        "src/system-error.cc",
        "src/tun-offload-reader.cc",
        "src/tun-open-batch.cc",
        "src/tun-packet-writer.cc",
        "src/tun-write-ring.cc",
        "src/udp-gro-reader.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-O3"],
      "cflags": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-O2", "-fvisibility=hidden", "-fno-exceptions", "-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
