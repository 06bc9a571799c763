"""diagnose: activation and gradient statistics at initialization, their flags and table."""
