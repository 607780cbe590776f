"""Files: the case store, reduced bases and models, converters, XDMF export.

All files are HDF5, versioned (``distrom_format``), written atomically and independent of
the number of ranks that wrote them.
"""
from distrom.io.case import Case, CaseWriter, FieldInfo, open_case

__all__ = ["Case", "CaseWriter", "FieldInfo", "open_case"]
