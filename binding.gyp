{
  "targets": [
    {
      "target_name": "nlsock",
      "sources": [
        "native/addon.cc",
        "native/js-error.cc",
        "native/loopback.cc",
        "native/netlink-socket.cc",
        "native/process.cc",
        "native/sd-notify.cc",
        "native/turn-lock.cc",
        "native/udp-batch.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17"]
    }
  ]
}
