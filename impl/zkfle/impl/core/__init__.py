"""The sans-IO protocol core: inputs in, effects and trace events out. No clock, randomness or IO here."""
