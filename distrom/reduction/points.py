"""Reduced integration points of a mechanics ROM: ECM points united with the dual bases' points.

The online stage evaluates the constitutive law only at the reduced integration points. The
reduced internal force needs the ECM points and weights; rebuilding a dual quantity (stress,
internal variables) with Gappy-POD needs points where that quantity's basis has full column
rank. :func:`reduced_integration_points` unites both; the points added for the dual bases
get weight zero, so they do not change the ECM cubature.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from distrom.errors import InputError
from distrom.reduction._dist import is_distributed
from distrom.reduction.ecm import ecm
from distrom.reduction.eim import deim, qdeim

__all__ = ["IntegrationPoints", "reduced_integration_points"]


@dataclass
class IntegrationPoints:
    """Result of :func:`reduced_integration_points`; unpacks as ``points, weights``.

    Attributes
    ----------
    points : numpy.ndarray of int64, shape (q,)
        Global integration-point indices, increasing, replicated.
    weights : numpy.ndarray, shape (q,)
        ECM weights; zero at the points added for the dual bases only.
    ecm_points : numpy.ndarray of int64
    dual_points : dict[str, numpy.ndarray]
        Per dual basis, the integration points its DEIM/QDEIM rows fall on.
    ecm_error : float
        Exact relative error of the ECM cubature on the training integrands.
    """

    points: np.ndarray
    weights: np.ndarray
    ecm_points: np.ndarray
    dual_points: dict = field(default_factory=dict)
    ecm_error: float = 0.0

    def __iter__(self):
        yield self.points
        yield self.weights


def reduced_integration_points(integrands: Any, weights: Any, dual_bases: Any = None, tol: float = 1e-5, *,
                               method: Literal["qdeim", "deim"] = "qdeim", components: Any = 1,
                               max_points: int | None = None) -> IntegrationPoints:
    """ECM points of the reduced internal force plus the interpolation points of the dual bases.

    Collective when the inputs are distributed.

    Parameters
    ----------
    integrands, weights, tol, max_points
        As in :func:`distrom.reduction.ecm.ecm`: integrands ``(n_functions, n_points)``
        (NumPy) or a Snapshots with the integration points as rows.
    dual_bases : dict name -> basis, a sequence of bases, or None
        Bases of dual quantities at the integration points, each ``(n_points * c, n_modes)``
        (NumPy or Snapshots, rows point-major: row ``p * c + i`` is component ``i`` at
        point ``p``).
    method : {"qdeim", "deim"}
        How the rows of each dual basis are chosen.
    components : int or dict name -> int
        ``c`` above (e.g. 6 for a stress in Voigt notation); default 1.

    Returns
    -------
    IntegrationPoints
        Every dual basis restricted to the rows of the returned points has full column rank
        (the DEIM/QDEIM rows are among them), so Gappy-POD is well posed there.
    """
    if method not in ("qdeim", "deim"):
        raise InputError(f"reduced_integration_points: method must be 'qdeim' or 'deim', got {method!r}")
    pts, w, info = ecm(integrands, weights, tol, max_points=max_points, return_info=True)
    n_points = info["n_points"]
    if dual_bases is None:
        bases: dict[str, Any] = {}
    elif isinstance(dual_bases, dict):
        bases = dict(dual_bases)
    else:
        bases = {f"dual{i}": b for i, b in enumerate(dual_bases)}
    dual: dict[str, np.ndarray] = {}
    for name, B in bases.items():
        c = int(components.get(name, 1) if isinstance(components, dict) else components)
        n_rows = B.shape[0] if is_distributed(B) else np.asarray(B).shape[0]
        if c < 1 or n_rows != n_points * c:
            raise InputError(f"reduced_integration_points: dual basis {name!r} has {n_rows} rows, expected "
                             f"n_points * components = {n_points} * {c}")
        sel = (qdeim if method == "qdeim" else deim)(B)
        dual[name] = np.unique(sel.points // c)
    extra = np.setdiff1d(np.concatenate([pts] + list(dual.values())) if dual else pts, pts)
    allp = np.concatenate([pts, extra]).astype(np.int64)
    allw = np.concatenate([w, np.zeros(extra.size)])
    order = np.argsort(allp, kind="stable")
    return IntegrationPoints(allp[order], allw[order], pts, dual, float(info["error"]))
