"""ZooKeeper 3.8's on-disk formats and recovery (`server/persistence/`), byte-compatible, over `FileSystem`."""
