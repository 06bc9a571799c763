"""GradInit: per-block scales learned so that one optimizer step lowers the loss most."""
