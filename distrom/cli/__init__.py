"""The ``distrom`` command line."""
