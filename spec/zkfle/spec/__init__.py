"""zkfle.spec: the vocabulary and the reference semantics of ZooKeeper 3.8 start-up and election.

Nothing here does IO or imports impl or checker: the checker judges traces with these definitions, so
they must not depend on the implementation they judge.
"""
