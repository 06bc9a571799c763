"""Layer 5: the ``jinit`` command line (one entry, one module per subcommand)."""
