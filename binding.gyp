{
  "targets": [
    {
      "target_name": "looplet",
      "sources": [
        "native/src/core/poller.cc",
        "native/src/core/poller_epoll.cc",
        "native/src/core/poller_kqueue.cc",
        "native/src/core/poller_poll.cc",
        "native/src/core/poller_select.cc",
        "native/src/core/coro.cc",
        "native/src/core/stack.cc",
        "native/src/core/hub.cc",
        "native/src/core/switch_x86_64_sysv.S",
        "native/src/core/switch_aarch64_aapcs64.S",
        "native/src/addon/addon.cc",
        "native/src/addon/bench.cc",
        "native/src/addon/greenlet.cc",
        "native/src/addon/poller_wrap.cc",
        "native/src/addon/sys.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "LP_STATIC"
      ],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc": ["-fvisibility=hidden", "-fno-exceptions"],
      "xcode_settings": {
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "conditions": [
        ["OS=='linux'", { "defines": ["LP_HAVE_EPOLL"] }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", { "defines": ["LP_HAVE_KQUEUE"] }]
      ]
    }
  ]
}
