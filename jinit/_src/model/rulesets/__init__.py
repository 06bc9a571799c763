"""Rule sets for reinit: framework presets (torch, keras, flax) and depth-aware schemes."""
