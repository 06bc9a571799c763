"""coord_check: the μP coordinate check, activation scale vs width over a few training steps."""
