{
  "targets": [
    {
      "target_name": "sluice_mmap",
      "sources": ["broker/native/mmap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"]
    }
  ]
}
