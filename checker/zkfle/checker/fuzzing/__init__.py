"""Fuzz campaigns (`zkfle fuzz`): hypothesis-generated simulator runs, judged by the verdict, shrunk."""
