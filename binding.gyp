# Three Node addons, built from the lists in native/build.json (which
# native/CMakeLists.txt reads too):
#   looplet           the Node-API binding: poller, sys. One binary loads on
#                     every Node line (prebuilds/<platform>/looplet.napi.node).
#   looplet_greenlet  the greenlet runtime. It uses V8's C++ API, whose ABI
#                     changes with every Node major: one binary per Node ABI
#                     (looplet_greenlet.abi<N>.node), checked at load.
#   looplet_bench     native floors for the benchmarks; the library never
#                     loads it.
# LOOPLET_PARTS=<target> builds only that one (scripts/prebuildify.mjs
# builds each part for its own tags). The C++ standard is left to Node's
# common.gypi: C++17 up to Node 22, C++20 from Node 24 (V8's headers need it).
{
  "variables": {
    "looplet_parts%": "<!(node -p \"process.env.LOOPLET_PARTS || 'all'\")"
  },
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native/include",
      "native/src/core"
    ],
    "defines": [
      "NAPI_VERSION=8",
      "NAPI_DISABLE_CPP_EXCEPTIONS",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "LP_STATIC"
    ],
    "cflags": [
      "<!@(node -p \"const b = require('./native/build.json'); [...b.cflags, ...b.warnings].join(' ')\")"
    ],
    "cflags_cc": ["<!@(node -p \"require('./native/build.json').cxxflags.join(' ')\")"],
    "xcode_settings": {
      "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
      "MACOSX_DEPLOYMENT_TARGET": "10.15"
    },
    "configurations": {
      "Debug": {"defines": ["LP_ASSERTS=1"]},
      "Release": {"defines": ["LP_ASSERTS=0"]}
    }
  },
  "targets": [],
  "conditions": [
    ["looplet_parts=='all' or looplet_parts=='looplet'", {
      "targets": [{
        "target_name": "looplet",
        "sources": [
          "<!@(node -p \"require('./native/build.json').core.map((f) => 'native/' + f).join(' ')\")",
          "<!@(node -p \"require('./native/build.json').addon.map((f) => 'native/' + f).join(' ')\")"
        ]
      }]
    }],
    ["looplet_parts=='all' or looplet_parts=='looplet_greenlet'", {
      "targets": [{
        "target_name": "looplet_greenlet",
        "defines": ["LP_NODE_MODULE_VERSION=<(node_module_version)"],
        "sources": ["<!@(node -p \"require('./native/build.json').greenlet.map((f) => 'native/' + f).join(' ')\")"]
      }]
    }],
    ["looplet_parts=='all' or looplet_parts=='looplet_bench'", {
      "targets": [{
        "target_name": "looplet_bench",
        "sources": [
          "<!@(node -p \"require('./native/build.json').core.map((f) => 'native/' + f).join(' ')\")",
          "<!@(node -p \"require('./native/build.json').bench.map((f) => 'native/' + f).join(' ')\")"
        ]
      }]
    }]
  ]
}
