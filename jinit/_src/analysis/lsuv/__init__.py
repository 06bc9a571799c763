"""LSUV: layer-sequential unit-variance initialization on traced kernels."""
