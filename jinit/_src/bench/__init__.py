"""Layer 4: the benchmark behind ``jinit bench`` (cases, timing, report)."""
