"""Layer 2: model-level initialization: paths, rules, layouts, reinit, init_params, ensembles.

Imports the core and the initializers.
"""
