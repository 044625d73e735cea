"""Drivers: the only part of impl that touches real files, clocks, randomness and sockets."""
