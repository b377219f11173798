"""Demo lead generator and live progress for `make run`."""
