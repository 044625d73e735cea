"""zkfle.impl: the reference implementation of ZooKeeper 3.8 start-up, recovery and election.

`core` and `persistence` are pure (their IO goes through the `FileSystem` interface); `drivers` own the
clock, randomness, real files and sockets.
"""
