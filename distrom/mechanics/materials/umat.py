"""Adapter calling an Abaqus-style ``UMAT`` from a compiled shared library through ctypes.

Conventions (see docs/materials.md):

* Fortran calling convention: every argument by reference, then the hidden length of
  ``CMNAME`` (``size_t``, gfortran >= 8), symbol ``umat_`` by default.
* Abaqus orders shear components ``12 13 23``; distrom ``12 23 31``. The adapter permutes
  strains, stresses and the tangent both ways (engineering shears on both sides). ``STATEV`` is
  passed as is: its layout belongs to the UMAT, name its columns with ``statev_names``.
* ``DDSDDE`` is column-major: ``DDSDDE(i, j) = d STRESS(i) / d STRAN(j)``.
* ``STRAN``/``DSTRAN`` are the total strain minus, if ``alpha`` is given to the adapter, the
  thermal strain (what Abaqus does with ``*EXPANSION``); otherwise the UMAT handles thermal
  expansion from ``TEMP``/``DTEMP`` itself.
* ``PNEWDT < 1`` returned by the UMAT raises ``ConvergenceError`` (the solver cuts the step).
"""
from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import ConvergenceError, InputError
from distrom.mechanics.materials._base import VOIGT, StateMixin, Coefficient, prepare, thermal_strain

#: distrom Voigt index of each Abaqus component (11 22 33 12 13 23); self-inverse.
ABAQUS_ORDER = np.array([0, 1, 2, 3, 5, 4])
STRESS_NAMES = tuple(f"sig{c}" for c in VOIGT)

_D = ctypes.POINTER(ctypes.c_double)
_I = ctypes.POINTER(ctypes.c_int)
# STRESS .. DPRED (18 doubles), CMNAME, NDI NSHR NTENS NSTATV, PROPS, NPROPS, COORDS DROT
# PNEWDT CELENT DFGRD0 DFGRD1, NOEL NPT LAYER KSPT KSTEP KINC, hidden CMNAME length.
_ARGTYPES = ([_D] * 18 + [ctypes.c_char_p] + [_I] * 4 + [_D, _I] + [_D] * 6 + [_I] * 6
             + [ctypes.c_size_t])


class UmatMaterial(StateMixin):
    """A constitutive law implemented by an Abaqus-style ``UMAT`` in a shared library.

    Parameters
    ----------
    library : str or Path
        Path of the shared library (``.so``) exporting the UMAT.
    props : sequence of float
        ``PROPS`` passed to the UMAT.
    nstatv : int
        Number of solution-dependent state variables ``STATEV``.
    statev_names : sequence of str, optional
        Names of the ``STATEV`` columns (default ``sdv1 ..``); use ``ep11 .. p`` names so the
        solver records plastic strains.
    cmname : str
        Material name passed as ``CMNAME`` (blank-padded to 80 characters).
    symbol : str
        Exported symbol, ``"umat_"`` (gfortran, or C written for it) by default.
    alpha : float or table, T_ref : float
        If ``alpha`` is not 0, the adapter removes the secant thermal strain
        ``alpha(T) (T - T_ref)`` from ``STRAN``/``DSTRAN`` before calling the UMAT.
    density : float, optional
        Mass density (used by body forces, not by the law).

    Notes
    -----
    State columns: the stress at ``t_n`` (``sig11 .. sig31``, distrom order; a UMAT receives
    ``STRESS`` at the start of the increment) followed by ``STATEV``. The points are looped in
    Python, one UMAT call each: this is the foreign-code adapter, not a hot path of built-in
    laws. ``time`` (attribute, default 0) is passed as ``TIME(1) = TIME(2)``; ``NOEL`` is the
    point index + 1 (or ``point_ids[i]`` when that attribute is set), ``NPT = 1``.
    """

    name = "umat"

    def __init__(self, library: str | Path, props: Sequence[float], nstatv: int,
                 statev_names: Sequence[str] | None = None, cmname: str = "DISTROM",
                 symbol: str = "umat_", alpha: Any = 0.0, T_ref: float = 0.0,
                 density: float | None = None, *, where: str = "material") -> None:
        path = Path(library)
        if not path.is_file():
            raise InputError(f"{where}.library: no such file {str(path)!r}")
        try:
            self._lib = ctypes.CDLL(str(path.resolve()))
        except OSError as exc:
            raise InputError(f"{where}.library: cannot load {str(path)!r}: {exc}") from None
        try:
            self._umat = getattr(self._lib, symbol)
        except AttributeError:
            raise InputError(f"{where}.symbol: {str(path)!r} exports no {symbol!r} "
                             f"(Fortran compilers usually export 'umat_')") from None
        self._umat.argtypes = _ARGTYPES
        self._umat.restype = None
        try:
            self.props = np.ascontiguousarray(props, dtype=float).ravel()
        except (TypeError, ValueError):
            raise InputError(f"{where}.props: expected a list of numbers, got {props!r}") from None
        if isinstance(nstatv, bool) or not isinstance(nstatv, (int, np.integer)) or nstatv < 0:
            raise InputError(f"{where}.nstatv: expected an integer >= 0, got {nstatv!r}")
        self.nstatv = int(nstatv)
        names = tuple(statev_names) if statev_names is not None else tuple(
            f"sdv{i + 1}" for i in range(self.nstatv))
        if len(names) != self.nstatv or len(set(names)) != len(names):
            raise InputError(f"{where}.statev_names: expected {self.nstatv} distinct names, "
                             f"got {list(names)}")
        self.state_names: tuple[str, ...] = STRESS_NAMES + names
        self.cmname = cmname.encode("ascii").ljust(80)[:80]
        self.alpha = Coefficient(alpha, f"{where}.alpha")
        self.T_ref = float(T_ref)
        self.density = density
        self.time = 0.0
        self.point_ids: np.ndarray | None = None

    def integrate(self, eps_n: np.ndarray, deps: np.ndarray, state_n: np.ndarray, dt: float,
                  temperature: np.ndarray | float,
                  temperature_n: np.ndarray | float | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Call the UMAT at each point; see ``Material.integrate``.

        Raises
        ------
        ConvergenceError
            The UMAT asked for a smaller step (``PNEWDT < 1``).
        """
        eps_n, deps, state_n, dt, T1, T0 = prepare(eps_n, deps, state_n, dt, temperature,
                                                   temperature_n, self.n_state)
        npt = eps_n.shape[0]
        eth0 = thermal_strain(self.alpha(T0), T0, self.T_ref)
        eth1 = thermal_strain(self.alpha(T1), T1, self.T_ref)
        stran_all = (eps_n - eth0)[:, ABAQUS_ORDER]
        dstran_all = (deps - (eth1 - eth0))[:, ABAQUS_ORDER]

        def buf(a: Any, dtype: Any = np.float64) -> np.ndarray:
            return np.ascontiguousarray(a, dtype=dtype)

        stress, statev, ddsdde = buf(np.zeros(6)), buf(np.zeros(max(self.nstatv, 1))), \
            buf(np.zeros(36))
        sse, spd, scd, rpl, drpldt = (buf(np.zeros(1)) for _ in range(5))
        ddsddt, drplde = buf(np.zeros(6)), buf(np.zeros(6))
        stran, dstran = buf(np.zeros(6)), buf(np.zeros(6))
        time, dtime, temp, dtemp = buf(np.zeros(2)), buf([dt]), buf(np.zeros(1)), \
            buf(np.zeros(1))
        predef, dpred = buf(np.zeros(1)), buf(np.zeros(1))
        ints = {k: buf([v], np.intc) for k, v in (("ndi", 3), ("nshr", 3), ("ntens", 6),
                                                  ("nstatv", self.nstatv),
                                                  ("nprops", self.props.size), ("noel", 1),
                                                  ("npt", 1), ("layer", 1), ("kspt", 1),
                                                  ("kstep", 1), ("kinc", 1))}
        props = buf(self.props if self.props.size else np.zeros(1))
        coords, drot = buf(np.zeros(3)), buf(np.eye(3).ravel())
        pnewdt, celent = buf([1.0]), buf([1.0])
        dfgrd0, dfgrd1 = buf(np.eye(3).ravel()), buf(np.eye(3).ravel())

        def d(a: np.ndarray) -> Any:
            return a.ctypes.data_as(_D)

        def i(a: np.ndarray) -> Any:
            return a.ctypes.data_as(_I)

        # Pointers are made once; the loop only refills the buffers behind them.
        fixed = [d(x) for x in (stress, statev, ddsdde, sse, spd, scd, rpl, ddsddt, drplde,
                                drpldt, stran, dstran, time, dtime, temp, dtemp, predef, dpred)]
        tail = ([i(ints["ndi"]), i(ints["nshr"]), i(ints["ntens"]), i(ints["nstatv"]), d(props),
                 i(ints["nprops"]), d(coords), d(drot), d(pnewdt), d(celent), d(dfgrd0),
                 d(dfgrd1), i(ints["noel"]), i(ints["npt"]), i(ints["layer"]), i(ints["kspt"]),
                 i(ints["kstep"]), i(ints["kinc"]), ctypes.c_size_t(80)])
        args = fixed + [self.cmname] + tail

        sigma = np.empty((npt, 6))
        tangent = np.empty((npt, 6, 6))
        state = np.empty_like(state_n)
        ids = self.point_ids
        time[:] = self.time
        for p in range(npt):
            stress[:] = state_n[p, ABAQUS_ORDER]
            statev[:self.nstatv] = state_n[p, 6:]
            ddsdde[:] = 0.0
            sse[0] = spd[0] = scd[0] = rpl[0] = drpldt[0] = 0.0
            stran[:], dstran[:] = stran_all[p], dstran_all[p]
            temp[0], dtemp[0] = T0[p], T1[p] - T0[p]
            pnewdt[0] = 1.0
            ints["noel"][0] = p + 1 if ids is None else int(ids[p])
            self._umat(*args)
            if not pnewdt[0] >= 1.0:
                raise ConvergenceError(f"UMAT {self.cmname.decode().strip()!r} asked for a "
                                       f"smaller time step (PNEWDT = {pnewdt[0]:g}) at point {p}")
            sigma[p] = stress[ABAQUS_ORDER]
            tangent[p] = ddsdde.reshape(6, 6, order="F")[np.ix_(ABAQUS_ORDER, ABAQUS_ORDER)]
            state[p, :6] = sigma[p]
            state[p, 6:] = statev[:self.nstatv]
        return sigma, tangent, state
