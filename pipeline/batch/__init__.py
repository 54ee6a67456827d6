"""Many videos: inputs expanded (inputs), outputs planned and resumed (plan), local worker processes (workers), Ray (ray)."""
