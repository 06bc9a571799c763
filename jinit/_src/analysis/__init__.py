"""Layer 3: measuring a model at initialization: capture, diagnose, LSUV, recommend.

Imports the layers below it.
"""
