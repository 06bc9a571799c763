"""Jacobian spectra: ``result`` (the value, its estimators), ``compute`` (jitted), ``run``."""
