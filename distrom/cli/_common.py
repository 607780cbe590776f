"""Helpers shared by the subcommands: which kind of distrom file a path is, JSON output."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError
from distrom.io.schema import open_checked


def file_kind(path: str | Path) -> str:
    """The ``kind`` attribute of a distrom HDF5 file (FormatError for anything else)."""
    with open_checked(path, "file") as f:
        if "distrom_format" not in f.attrs:
            raise FormatError(f"'{path}' is an HDF5 file but not a distrom file (no 'distrom_format' attribute)")
        kind = f.attrs.get("kind", b"")
        return kind.decode() if isinstance(kind, bytes) else str(kind)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, bytes):
        return x.decode()
    return x


def print_json(obj: Any) -> None:
    json.dump(_jsonable(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")


def generic_summary(path: str | Path) -> dict:
    """Attributes and dataset shapes of any distrom file (for kinds without a dedicated summary)."""
    out: dict[str, Any] = {"path": str(path)}
    with open_checked(path, "file") as f:
        out["attrs"] = {k: _jsonable(v) for k, v in f.attrs.items()}
        datasets: dict[str, Any] = {}

        def visit(name: str, obj: Any) -> None:
            if hasattr(obj, "shape"):
                datasets[name] = list(obj.shape)

        f.visititems(visit)
        out["datasets"] = datasets
    return out
