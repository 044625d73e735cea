"""zkfle.checker: judges traces and data against the spec, and the `zkfle` command line.

The verdict code (invariants, replay, proofs) imports `zkfle.spec` only; the command line and the fuzz
driver may also drive `zkfle.impl`.
"""
