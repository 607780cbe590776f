"""Files: the case store, reduced bases and models, converters, XDMF export.

All files are HDF5, versioned (``distrom_format``), written atomically and independent of
the number of ranks that wrote them.

The case-store names are loaded lazily (PEP 562), so that the serial online stage can use
``distrom.io.schema`` and ``distrom.io._atomic`` without importing the case store.
"""
from typing import Any

__all__ = ["Case", "CaseWriter", "FieldInfo", "open_case"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from distrom.io import case

        return getattr(case, name)
    raise AttributeError(f"module 'distrom.io' has no attribute {name!r}")
