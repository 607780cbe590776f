"""File-format versions and the checks every reader runs before touching the data.

Each distrom file carries root attributes ``distrom_format`` (``"MAJOR.MINOR"``) and ``kind``
(``"case"``, ``"basis"``, ``"reduced_model"``, ...). Readers accept every minor version of the
major versions they know and refuse newer majors with a message naming both versions.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distrom.errors import FormatError

__all__ = ["FORMAT_VERSIONS", "format_string", "open_checked", "check_kind", "parse_version"]

#: current (major, minor) written for each kind of file
FORMAT_VERSIONS: dict[str, tuple[int, int]] = {
    "case": (1, 0),
    "basis": (1, 0),
    "reduced_model": (1, 0),
    "online_result": (1, 0),
}


def format_string(kind: str) -> str:
    major, minor = FORMAT_VERSIONS[kind]
    return f"{major}.{minor}"


def parse_version(text: Any, path: str | os.PathLike = "?") -> tuple[int, int]:
    if isinstance(text, bytes):
        text = text.decode()
    try:
        major, minor = (int(p) for p in str(text).split(".")[:2])
    except ValueError:
        raise FormatError(f"'{path}': attribute distrom_format is '{text}', expected 'MAJOR.MINOR'") from None
    return major, minor


def open_checked(path: str | os.PathLike, what: str = "file") -> Any:
    """Open an existing HDF5 file read-only, turning every low-level failure into a FormatError.

    Not collective: every process opens the file independently (HDF5 allows many readers).
    """
    import h5py

    p = Path(path)
    if not p.exists():
        raise FormatError(f"{what} '{p}' does not exist")
    if p.is_dir():
        raise FormatError(f"{what} '{p}' is a directory, expected an HDF5 file")
    try:
        is_h5 = h5py.is_hdf5(str(p))
    except OSError as e:
        raise FormatError(f"{what} '{p}' cannot be read: {e}") from None
    if not is_h5:
        raise FormatError(f"{what} '{p}' is not an HDF5 file (no HDF5 signature); "
                          f"distrom {what}s are HDF5 files")
    try:
        return h5py.File(str(p), "r")
    except OSError as e:
        raise FormatError(f"{what} '{p}' cannot be opened (truncated or corrupt?): {e}") from None


def check_kind(f: Any, kind: str, path: str | os.PathLike) -> tuple[int, int]:
    """Check the ``kind`` and ``distrom_format`` attributes of an open file; return the version."""
    if "distrom_format" not in f.attrs:
        raise FormatError(f"'{path}' is an HDF5 file but not a distrom {kind} (no 'distrom_format' attribute)")
    found = f.attrs.get("kind", b"")
    found = found.decode() if isinstance(found, bytes) else str(found)
    if found != kind:
        raise FormatError(f"'{path}' is a distrom '{found}' file, expected a '{kind}'")
    version = parse_version(f.attrs["distrom_format"], path)
    major, _ = FORMAT_VERSIONS[kind]
    if version[0] > major:
        raise FormatError(f"'{path}' has distrom_format {version[0]}.{version[1]}, newer than this reader "
                          f"(distrom reads {kind} format {major}.x): upgrade distrom")
    return version
