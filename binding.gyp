{
  "targets": [
    {
      "target_name": "kura_sendfile",
      "sources": ["native/sendfile.c", "native/relay.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "conditions": [["OS!='linux'", {"type": "none", "sources": []}]]
    }
  ]
}
