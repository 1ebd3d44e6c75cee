{
  "targets": [
    {
      "target_name": "unetc_native",
      "sources": ["unetc_native.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "libraries": ["-ldnnl", "-lgomp"]
    }
  ]
}
