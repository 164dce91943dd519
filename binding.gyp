{
  "targets": [
    {
      "target_name": "sluice_mmap",
      "sources": ["broker/native/mmap.c", "broker/native/uncounted-buffer.cc"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-D_GNU_SOURCE"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17"]
    }
  ]
}
