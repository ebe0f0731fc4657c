{
  # Two addons:
  #  sockfd       the N-API core (native/*.cc). ABI-stable: one build serves
  #               every Node version (prebuilds/linux-x64/sockfd.napi.node).
  #  sockfd_node  what needs node.h/V8 (native/node/*.cc): fork's worker
  #               parking, V8 fast calls. Built per Node ABI
  #               (NODE_MODULE_VERSION), loaded lazily by lib/native.ts
  #               (nodeAddon()). Its file is build/Release/sockfd_node.node-abi,
  #               not *.node: node-gyp-build loads the first *.node file of
  #               build/Release as the core, and must never find this one.
  "target_defaults": {
    "defines": ["_GNU_SOURCE"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
    # Every symbol bound at load (and the GOT read-only: full RELRO). Lazily
    # bound, each forked child resolved again what only children call
    # (uv_loop_fork, _exit, ...), each lookup through node's symbol table.
    "ldflags": ["-Wl,-z,now"]
  },
  "targets": [
    {
      "target_name": "sockfd",
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).sort().map(f => 'native/' + f).join(' ')\")"
      ]
    },
    {
      "target_name": "sockfd_node",
      # After node-gyp's addon.gypi, whose target_conditions set "node".
      "target_conditions": [["_type=='loadable_module'", {"product_extension": "node-abi"}]],
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native/node').filter(f => f.endsWith('.cc')).sort().map(f => 'native/node/' + f).join(' ')\")"
      ]
    }
  ]
}
