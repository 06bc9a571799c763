"""Layer 1: the initializers and the registry.

Constant, random, variance scaling, orthogonal and identity initializers; imports only the core.
"""
