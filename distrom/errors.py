"""Domain exceptions. Messages name the file, key or value at fault and what was expected."""


class DistromError(Exception):
    """Base class of every error distrom raises on purpose."""


class InputError(DistromError, ValueError):
    """A user-supplied value, option or config entry is invalid."""


class FormatError(DistromError):
    """A file is missing, unreadable, truncated, of the wrong kind or of an unknown version."""


class LayoutError(DistromError, ValueError):
    """Distributed data do not fit together (row counts, column counts, ownership ranges)."""


class ConvergenceError(DistromError, RuntimeError):
    """An iterative solver or algorithm did not converge."""
