"""Layer 0, the core: types, argument checks, sampling, sharding, fans and gains.

Imports nothing else from jinit.
"""
