"""Files: the case store, reduced bases and models, converters, XDMF export.

All files are HDF5, versioned (``distrom_format``), written atomically and independent of
the number of ranks that wrote them.

The public names are loaded lazily (PEP 562), so that the serial online stage can use
``distrom.io.schema`` and ``distrom.io._atomic`` without importing the case store.
"""
from importlib import import_module
from typing import Any

_WHERE = {
    "Case": "distrom.io.case", "CaseWriter": "distrom.io.case", "FieldInfo": "distrom.io.case",
    "open_case": "distrom.io.case", "save_basis": "distrom.io.basis", "load_basis": "distrom.io.basis",
    "export_xdmf": "distrom.io.xdmf",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'distrom.io' has no attribute {name!r}")
