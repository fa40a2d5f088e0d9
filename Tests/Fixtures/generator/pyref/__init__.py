"""PyTorch reference code for cyclex's fixtures: networks, explanation rules, training steps, and the
fixture-file machinery (tolerances, float64 references, seeded searches, README rendering)."""
