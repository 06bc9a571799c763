"""The traced axes: what a model's computation says about each parameter's layout."""
