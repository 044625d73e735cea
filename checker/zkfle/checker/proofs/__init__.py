"""z3 proofs about the spec: quorum intersection (`proofs.quorum`) and the vote order (`proofs.vote_order`).

z3 ships no type information, so every `import z3` of the project lives in this package; the functions here
take and return plain spec values (sids, `Vote`s, frozen result types), never z3 objects. Every answer z3 gives
is checked in plain Python against `zkfle.spec` before it is returned: a counterexample or witness that the
spec does not confirm is a programmer error (AssertionError), not a verdict.
"""
