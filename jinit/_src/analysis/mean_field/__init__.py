"""Mean-field signal propagation: maps (``maps``), the result (``result``), the API (``run``)."""
