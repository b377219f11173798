"""The ``leadflow`` command line."""
