"""Constitutive laws at material points: serial, NumPy only, fast."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import clean_subprocess_env
from distrom.errors import ConvergenceError, InputError
from distrom.mechanics.materials import (
    Coefficient,
    LinearElastic,
    Material,
    Norton,
    UmatMaterial,
    make_material,
)

E_TABLE = {"T": [20.0, 500.0, 900.0], "value": [200e3, 170e3, 120e3]}
NU_TABLE = {"T": [20.0, 900.0], "value": [0.29, 0.33]}
ALPHA_TABLE = {"T": [20.0, 900.0], "value": [1.2e-5, 1.6e-5]}


def fd_tangent(mat, eps_n, deps, state_n, dt, T1, T0=None, h=1e-7):
    """Central finite differences of sigma(deps), shape (n, 6, 6)."""
    n = eps_n.shape[0]
    C = np.empty((n, 6, 6))
    for j in range(6):
        e = np.zeros(6)
        e[j] = h
        sp = mat.integrate(eps_n, deps + e, state_n, dt, T1, T0)[0]
        sm = mat.integrate(eps_n, deps - e, state_n, dt, T1, T0)[0]
        C[:, :, j] = (sp - sm) / (2 * h)
    return C


def assert_tangent(mat, eps_n, deps, state_n, dt, T1, T0=None, h=1e-7, rtol=1e-6):
    C = mat.integrate(eps_n, deps, state_n, dt, T1, T0)[1]
    C_fd = fd_tangent(mat, eps_n, deps, state_n, dt, T1, T0, h)
    scale = np.abs(C).max(axis=(1, 2), keepdims=True)
    err = np.abs(C - C_fd) / scale
    assert err.max() < rtol, f"tangent mismatch {err.max():.2e}"
    return C


# ---------------------------------------------------------------- import boundary
def test_materials_import_without_mpi_petsc():
    code = textwrap.dedent("""
        import sys
        sys.modules.update(dict.fromkeys(["mpi4py", "petsc4py", "slepc4py"]))
        import numpy as np
        import distrom.mechanics
        import distrom.mechanics.materials as mm
        from distrom.mechanics.materials import norton, chaboche, umat  # every module
        for spec in ({"law": "elastic", "E": 1.0, "nu": 0.2},
                     {"law": "norton", "E": 1.0, "nu": 0.2, "K": 1.0, "n": 3.0},
                     {"law": "chaboche", "E": 1.0, "nu": 0.2, "R0": 1.0, "C": 1.0,
                      "gamma": 1.0, "K": 1.0, "n": 3.0}):
            m = mm.make_material(spec)
            m.integrate(np.zeros((1, 6)), np.full((1, 6), 1e-3), m.initial_state(1), 1.0, 0.0)
        bad = [k for k, v in sys.modules.items() if v is not None and k.split(".")[0] in
               ("mpi4py", "petsc4py", "slepc4py", "h5py")]
        assert not bad, bad
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], env=clean_subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


# ---------------------------------------------------------------- elasticity
def test_protocol_and_factory():
    m = make_material({"law": "elastic", "E": 210e3, "nu": 0.3})
    assert isinstance(m, Material) and isinstance(m, LinearElastic)
    assert m.n_state == 0 and m.initial_state(4).shape == (4, 0)


def test_elastic_uniaxial_and_shear():
    E, nu = 210e3, 0.3
    m = LinearElastic(E, nu)
    eps = np.array([[1e-3, -nu * 1e-3, -nu * 1e-3, 0, 0, 0], [0, 0, 0, 2e-3, 0, 0]])
    sig, C, _ = m.integrate(np.zeros((2, 6)), eps, m.initial_state(2), 1.0, 0.0)
    np.testing.assert_allclose(sig[0], [E * 1e-3, 0, 0, 0, 0, 0], atol=1e-9)
    # engineering shear: sigma_12 = G gamma_12
    np.testing.assert_allclose(sig[1], [0, 0, 0, E / (2 * (1 + nu)) * 2e-3, 0, 0], atol=1e-9)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", C, eps), sig, rtol=1e-14, atol=1e-9)


def test_free_thermal_expansion_exact():
    m = make_material({"law": "elastic", "E": E_TABLE, "nu": NU_TABLE, "alpha": ALPHA_TABLE,
                       "T_ref": 20.0})
    T = np.array([20.0, 300.0, 650.0, 1200.0])
    a = np.interp(T, ALPHA_TABLE["T"], ALPHA_TABLE["value"])
    eps = np.zeros((4, 6))
    eps[:, :3] = (a * (T - 20.0))[:, None]
    sig, _, _ = m.integrate(np.zeros((4, 6)), eps, m.initial_state(4), 1.0, T)
    assert np.all(sig == 0.0)   # exactly: the same floating-point thermal strain is subtracted


def test_elastic_tangent_fd_with_tables():
    m = make_material({"law": "elastic", "E": E_TABLE, "nu": NU_TABLE, "alpha": ALPHA_TABLE,
                       "T_ref": 20.0})
    rng = np.random.default_rng(0)
    eps_n, deps = 1e-3 * rng.standard_normal((5, 6)), 1e-4 * rng.standard_normal((5, 6))
    assert_tangent(m, eps_n, deps, m.initial_state(5), 1.0, rng.uniform(0, 1000, 5))


def test_coefficient_table_interpolates_and_clamps():
    c = Coefficient({"T": [0.0, 100.0], "value": [1.0, 3.0]})
    np.testing.assert_allclose(c(np.array([-50.0, 0.0, 25.0, 100.0, 400.0])), [1, 1, 1.5, 3, 3])
    assert Coefficient(2.5)(np.zeros((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("spec, key", [
    ({"law": "elastic", "E": -1.0, "nu": 0.3}, "material.E"),
    ({"law": "elastic", "E": 1.0, "nu": 0.5}, "material.nu"),
    ({"law": "elastic", "E": {"T": [0, 100], "value": [1.0, -1.0]}, "nu": 0.3}, "material.E"),
    ({"law": "elastic", "E": 1.0, "nu": 0.3, "Young": 3.0}, "Young"),
    ({"law": "elastic", "E": 1.0}, "nu"),
    ({"law": "elastic", "E": {"T": [0, 100, 50], "value": [1, 2, 3]}, "nu": 0.3}, "material.E"),
    ({"law": "elastic", "E": {"T": [0, 100], "value": [1]}, "nu": 0.3}, "material.E"),
    ({"law": "elastic", "E": "big", "nu": 0.3}, "material.E"),
    ({"law": "plastic", "E": 1.0, "nu": 0.3}, "law"),
])
def test_bad_elastic_parameters(spec, key):
    with pytest.raises(InputError, match=key) as info:
        make_material(spec)
    if key in ("Young", "law"):
        assert "accepted" in str(info.value)


def test_bad_integrate_arguments():
    m = LinearElastic(1.0, 0.2)
    with pytest.raises(InputError, match="dt"):
        m.integrate(np.zeros((1, 6)), np.zeros((1, 6)), m.initial_state(1), -1.0, 0.0)
    with pytest.raises(InputError, match="shape"):
        m.integrate(np.zeros((1, 6)), np.zeros((2, 6)), m.initial_state(1), 1.0, 0.0)


# ---------------------------------------------------------------- helpers
def rand_deviator(rng, shape, scale):
    X = scale * rng.standard_normal(shape + (6,))
    X[..., :3] -= X[..., :3].mean(axis=-1, keepdims=True)
    return X


def von_mises(s):
    return np.sqrt(1.5 * (np.sum(s[..., :3] ** 2, -1) + 2 * np.sum(s[..., 3:] ** 2, -1)))


def mixed_step(mat, eps_n, state_n, dt, T, target, free, eps11=None, tol=1e-11, guess=None):
    """One step of a single point with sigma[free] = target[free]; the other strain components
    are prescribed (eps11 given) or also stress-driven. Newton with the consistent tangent."""
    deps = np.zeros((1, 6)) if guess is None else guess.copy()
    fixed = np.setdiff1d(np.arange(6), free)
    if eps11 is not None:
        deps[0, fixed] = eps11 - eps_n[0, fixed]
    scale = max(np.abs(target).max(), 1.0)
    for it in range(30):
        sig, C, state = mat.integrate(eps_n, deps, state_n, dt, T)
        r = sig[0, free] - target[free]
        if np.abs(r).max() <= tol * scale:
            return deps, sig, state, it
        deps[0, free] -= np.linalg.solve(C[0][np.ix_(free, free)], r)
    raise AssertionError(f"mixed control did not converge: |r| = {np.abs(r).max():.3e}")


NORTON_SPEC = {"law": "norton", "E": E_TABLE, "nu": NU_TABLE, "alpha": ALPHA_TABLE, "T_ref": 20.0,
               "K": {"T": [20.0, 900.0], "value": [900.0, 300.0]},
               "n": {"T": [20.0, 900.0], "value": [4.0, 6.0]}}
CHABOCHE_SPEC = {"law": "chaboche", "E": E_TABLE, "nu": NU_TABLE, "alpha": ALPHA_TABLE,
                 "T_ref": 20.0, "R0": {"T": [20.0, 900.0], "value": [250.0, 120.0]},
                 "Q": {"T": [20.0, 900.0], "value": [60.0, -20.0]}, "b": 15.0,
                 "C": [{"T": [20.0, 900.0], "value": [120e3, 60e3]}, 15e3],
                 "gamma": [{"T": [20.0, 900.0], "value": [900.0, 600.0]}, 60.0],
                 "K": {"T": [20.0, 900.0], "value": [150.0, 400.0]},
                 "n": {"T": [20.0, 900.0], "value": [5.0, 8.0]}}


# ---------------------------------------------------------------- Norton
@pytest.mark.parametrize("T", [20.0, 600.0])
def test_norton_uniaxial_creep_matches_analytic(T):
    mat = make_material(NORTON_SPEC)
    E = np.interp(T, E_TABLE["T"], E_TABLE["value"])
    K = np.interp(T, [20.0, 900.0], [900.0, 300.0])
    n = np.interp(T, [20.0, 900.0], [4.0, 6.0])
    a = np.interp(T, ALPHA_TABLE["T"], ALPHA_TABLE["value"])
    sigma0 = 200.0
    target = np.array([sigma0, 0, 0, 0, 0, 0.0])
    eps, state, t = np.zeros((1, 6)), mat.initial_state(1), 0.0
    for dt in [0.5] * 4 + [2.0] * 10 + [10.0] * 5:   # uneven steps: the rate is constant
        deps, sig, state, _ = mixed_step(mat, eps, state, dt, T, target, np.arange(6))
        eps, t = eps + deps, t + dt
        creep = (sigma0 / K) ** n * t
        eps_th = a * (T - 20.0)
        np.testing.assert_allclose(eps[0, 0] - sigma0 / E - eps_th, creep, rtol=1e-3)
        np.testing.assert_allclose(state[0, 0], creep, rtol=1e-3)
        np.testing.assert_allclose(state[0, 1:3], -0.5 * creep, rtol=1e-3)   # incompressible
        np.testing.assert_allclose(state[0, 6], creep, rtol=1e-3)
    assert creep > 10 * sigma0 / E   # the test really is creep-dominated


def test_norton_local_equation_solved_for_any_stiffness():
    mat = Norton(200e3, 0.3, K=500.0, n=7.0)
    rng = np.random.default_rng(3)
    for dt in [1e-12, 1e-6, 1.0, 1e6, 1e12]:
        eps = 5e-3 * rng.standard_normal((8, 6))
        sig, _, state = mat.integrate(np.zeros((8, 6)), eps, mat.initial_state(8), dt, 0.0)
        q = von_mises(sig - sig[:, :3].mean(1, keepdims=True) * [1, 1, 1, 0, 0, 0])
        np.testing.assert_allclose(state[:, 6], dt * (q / 500.0) ** 7, rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("n_exp", [None, 1.0])
def test_norton_tangent_fd(n_exp):
    mat = make_material(NORTON_SPEC if n_exp is None else dict(NORTON_SPEC, n=n_exp))
    rng = np.random.default_rng(4)
    n = 6
    eps_n, deps = 2e-3 * rng.standard_normal((n, 6)), 1e-3 * rng.standard_normal((n, 6))
    state = mat.initial_state(n)
    state[:, :6] = 1e-4 * rng.standard_normal((n, 6))
    T1, T0 = rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)
    for dt in [1e-6, 1.0, 1e4]:   # almost elastic, viscous, relaxed
        C = assert_tangent(mat, eps_n, deps, state, dt, T1, T0, h=1e-8)
    assert np.abs(C - np.swapaxes(C, 1, 2)).max() < 1e-8 * np.abs(C).max()   # symmetric


def test_thermal_expansion_free_for_every_builtin_law():
    T = np.array([20.0, 400.0, 1000.0])
    a = np.interp(T, ALPHA_TABLE["T"], ALPHA_TABLE["value"])
    eps = np.zeros((3, 6))
    eps[:, :3] = (a * (T - 20.0))[:, None]
    for spec in (NORTON_SPEC, CHABOCHE_SPEC):
        mat = make_material(spec)
        sig, _, state = mat.integrate(np.zeros((3, 6)), eps, mat.initial_state(3), 10.0, T, 20.0)
        assert np.all(sig == 0.0) and np.all(state == 0.0)


# ---------------------------------------------------------------- Chaboche
def test_chaboche_tangent_fd_elastic_and_plastic():
    mat = make_material(CHABOCHE_SPEC)
    assert mat.n_state == 19 and mat.state_names[7] == "X1_11" and mat.state_names[-1] == "X2_31"
    rng = np.random.default_rng(5)
    n = 8
    state = mat.initial_state(n)
    state[:, :6] = 1e-3 * rng.standard_normal((n, 6))
    state[:, 6] = rng.uniform(0, 0.05, n)
    state[:, 7:] = rand_deviator(rng, (n, 2), 10.0).reshape(n, 12)
    T1 = rng.uniform(0, 1000, n)
    eps_n = state[:, :6] + 1e-4 * rng.standard_normal((n, 6))
    eps_n[:, :3] += (np.interp(T1, ALPHA_TABLE["T"], ALPHA_TABLE["value"]) * (T1 - 20.0))[:, None]
    small = 1e-5 * rng.standard_normal((n, 6))           # stays inside the yield surface
    sig, C, new = mat.integrate(eps_n, small, state, 1.0, T1)
    assert np.all(new == state)
    assert_tangent(mat, eps_n, small, state, 1.0, T1, h=1e-8)
    big = 3e-3 * rng.standard_normal((n, 6))
    for dt in [1e-3, 1.0, 1e5]:
        new = mat.integrate(eps_n, big, state, dt, T1)[2]
        assert np.all(new[:, 6] > state[:, 6])            # all plastic
        assert_tangent(mat, eps_n, big, state, dt, T1, h=1e-8)


def test_chaboche_backward_euler_equations_hold():
    """The returned state satisfies the implicit (backward Euler) equations themselves."""
    mat = make_material(CHABOCHE_SPEC)
    rng = np.random.default_rng(8)
    n, dt = 12, 0.7
    state = mat.initial_state(n)
    state[:, 6] = rng.uniform(0, 0.02, n)
    state[:, 7:] = rand_deviator(rng, (n, 2), 10.0).reshape(n, 12)
    T = rng.uniform(0, 1000, n)
    sig, _, new = mat.integrate(np.zeros((n, 6)), 4e-3 * rng.standard_normal((n, 6)), state, dt, T)
    dp = new[:, 6] - state[:, 6]
    assert np.all(dp > 0)
    tab = lambda key: np.interp(T, CHABOCHE_SPEC[key]["T"], CHABOCHE_SPEC[key]["value"])
    X = new[:, 7:].reshape(n, 2, 6)
    s = sig - sig[:, :3].mean(1, keepdims=True) * [1, 1, 1, 0, 0, 0]
    R = tab("R0") + tab("Q") * (1 - np.exp(-15.0 * new[:, 6]))
    f = von_mises(s - X.sum(1)) - R
    np.testing.assert_allclose(dp, dt * (f / tab("K")) ** tab("n"), rtol=1e-10)
    N = 1.5 * (s - X.sum(1)) / von_mises(s - X.sum(1))[:, None]
    dep = new[:, :6] - state[:, :6]
    np.testing.assert_allclose(dep, dp[:, None] * N * [1, 1, 1, 2, 2, 2], rtol=1e-10, atol=1e-15)
    C = np.stack([np.interp(T, [20.0, 900.0], [120e3, 60e3]), np.full(n, 15e3)], 1)
    g = np.stack([np.interp(T, [20.0, 900.0], [900.0, 600.0]), np.full(n, 60.0)], 1)
    X_n = state[:, 7:].reshape(n, 2, 6)
    rhs = X_n + (2 / 3) * C[:, :, None] * (dp[:, None] * N)[:, None, :] \
        - g[:, :, None] * X * dp[:, None, None]
    np.testing.assert_allclose(X, rhs, rtol=1e-10, atol=1e-10)


def test_chaboche_without_threshold_and_hardening_is_norton():
    """Two independent local solvers (logit Newton, bracketed Newton in dp^(1/n)) agree."""
    common = {k: NORTON_SPEC[k] for k in ("E", "nu", "alpha", "T_ref", "K", "n")}
    norton = make_material(dict(common, law="norton"))
    chab = make_material(dict(common, law="chaboche", R0=0.0, C=0.0, gamma=0.0))
    rng = np.random.default_rng(9)
    n = 20
    eps_n, deps = 2e-3 * rng.standard_normal((n, 6)), 2e-3 * rng.standard_normal((n, 6))
    T = rng.uniform(0, 1000, n)
    for dt in [1e-4, 1.0, 1e4]:
        a = norton.integrate(eps_n, deps, norton.initial_state(n), dt, T)
        b = chab.integrate(eps_n, deps, chab.initial_state(n), dt, T)
        np.testing.assert_allclose(b[0], a[0], rtol=0, atol=1e-10 * np.abs(a[0]).max())
        np.testing.assert_allclose(b[1], a[1], rtol=0, atol=1e-10 * np.abs(a[1]).max())
        np.testing.assert_allclose(b[2][:, :7], a[2], rtol=0, atol=1e-10 * np.abs(a[2]).max())


def test_chaboche_vectorized_equals_pointwise():
    mat = make_material(CHABOCHE_SPEC)
    rng = np.random.default_rng(6)
    n = 10
    state = mat.initial_state(n)
    state[:, 7:] = rand_deviator(rng, (n, 2), 30.0).reshape(n, 12)
    deps = np.where(np.arange(n)[:, None] % 2 == 0, 1e-5, 3e-3) * rng.standard_normal((n, 6))
    T = rng.uniform(0, 1000, n)
    out = mat.integrate(np.zeros((n, 6)), deps, state, 0.5, T)
    assert 0 < np.count_nonzero(out[2][:, 6]) < n        # a mix of elastic and plastic points
    for p in range(n):
        one = mat.integrate(np.zeros((1, 6)), deps[p:p + 1], state[p:p + 1], 0.5, T[p])
        for a, b in zip(out, one):
            np.testing.assert_allclose(a[p:p + 1], b, rtol=1e-13, atol=1e-12)


def test_chaboche_cyclic_bauschinger_and_back_stress_saturation():
    E, R0, C, g = 200e3, 100.0, 50e3, 500.0
    mat = make_material({"law": "chaboche", "E": E, "nu": 0.3, "R0": R0, "C": C, "gamma": g,
                         "K": 2.0, "n": 3.0})
    free = np.arange(1, 6)                                  # uniaxial stress, eps11 driven
    zero = np.zeros(6)
    eps, state, rate = np.zeros((1, 6)), mat.initial_state(1), 1e-3

    def ramp(eps, state, stop, n_steps):
        hist, deps = [], None
        for e11 in np.linspace(eps[0, 0], stop, n_steps + 1)[1:]:
            dt = abs(e11 - eps[0, 0]) / rate
            deps, sig, new, _ = mixed_step(mat, eps, state, dt, 20.0, zero, free, eps11=e11,
                                           guess=deps)
            hist.append((sig[0, 0], new[0, 6] - state[0, 6], new[0, 7:13].copy()))
            eps, state = eps + deps, new
        return eps, state, hist

    eps, state, up = ramp(eps, state, 0.02, 100)
    X = state[0, 7:13]
    # saturation of the back stress: J(X) -> C/gamma, uniaxial X = J(X) diag(2/3, -1/3, -1/3)
    np.testing.assert_allclose(von_mises(X), C / g, rtol=1e-3)
    np.testing.assert_allclose(X[:3], C / g * np.array([2, -1, -1]) / 3, rtol=1e-3)
    sig_max = up[-1][0]
    overstress = sig_max - R0 - von_mises(X)               # viscous part, small here
    assert 0 < overstress < 1.0
    eps, state, down = ramp(eps, state, -0.02, 400)
    first_plastic = next(k for k, h in enumerate(down) if h[1] > 0)
    last_elastic_sig = down[first_plastic - 1][0]
    # Bauschinger: reverse yield at sigma_max - 2 R (kinematic), not at -sigma_max (isotropic)
    expected = sig_max - 2 * R0 - overstress
    step = E * 0.04 / 400
    assert expected - 1e-9 <= last_elastic_sig <= expected + step + 1e-9
    assert last_elastic_sig > 0.5 * sig_max - R0           # far from -sigma_max
    np.testing.assert_allclose(state[0, 7:10], -C / g * np.array([2, -1, -1]) / 3, rtol=1e-3)


# ---------------------------------------------------------------- bad parameters
@pytest.mark.parametrize("law, change, key", [
    ("norton", {"E": -2.0}, "material.E"),
    ("norton", {"nu": 0.5}, "material.nu"),
    ("norton", {"K": 0.0}, "material.K"),
    ("norton", {"n": 0.5}, "material.n"),
    ("norton", {"A": 1.0}, "material.A"),
    ("norton", {"K": {"T": [100.0, 100.0], "value": [1.0, 2.0]}}, "material.K"),
    ("chaboche", {"nu": 0.7}, "material.nu"),
    ("chaboche", {"E": {"T": [0.0, 1.0], "value": [1.0, -1.0]}}, "material.E"),
    ("chaboche", {"R0": -1.0}, "material.R0"),
    ("chaboche", {"gamma": [1.0]}, "material.gamma"),
    ("chaboche", {"C": [1.0, 2.0, 3.0], "gamma": [1.0, 1.0, 1.0]}, "material.C"),
    ("chaboche", {"C": [1.0, {"T": [2.0, 1.0], "value": [1.0, 1.0]}]}, r"material.C\[1\]"),
    ("chaboche", {"Rinf": 3.0}, "Rinf"),
])
def test_bad_viscoplastic_parameters(law, change, key):
    spec = dict(NORTON_SPEC if law == "norton" else CHABOCHE_SPEC, **change)
    with pytest.raises(InputError, match=key) as info:
        make_material(spec)
    if key in ("material.A", "Rinf"):
        assert "accepted" in str(info.value) and "K" in str(info.value)


def test_missing_parameter_names_it():
    with pytest.raises(InputError, match="material.K"):
        make_material({"law": "norton", "E": 1.0, "nu": 0.2, "n": 3.0})
    with pytest.raises(InputError, match=r"\[material\]\.law"):
        make_material({"law": "maxwell"}, where="[material]")


# ---------------------------------------------------------------- UMAT adapter
UMAT_SOURCE = Path(__file__).resolve().parents[1] / "examples" / "umat" / "norton_umat.c"
UMAT_STATEV = ("ep11", "ep22", "ep33", "ep12", "ep31", "ep23", "p")   # Abaqus order inside


@pytest.fixture(scope="module")
def norton_umat_lib(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot build examples/umat/norton_umat.c")
    lib = tmp_path_factory.mktemp("umat") / "libnorton_umat.so"
    r = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(lib), str(UMAT_SOURCE), "-lm"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return lib


@pytest.mark.parametrize("expansion_in", ["umat", "adapter"])
def test_umat_norton_equals_builtin_norton(norton_umat_lib, expansion_in):
    E, nu, K, n, alpha, T_ref = 190e3, 0.31, 350.0, 5.0, 1.3e-5, 20.0
    ref = Norton(E, nu, K, n, alpha, T_ref)
    if expansion_in == "umat":
        umat = make_material({"law": "umat", "library": str(norton_umat_lib), "nstatv": 7,
                              "props": [E, nu, K, n, alpha, T_ref], "statev_names": UMAT_STATEV})
    else:
        umat = make_material({"law": "umat", "library": str(norton_umat_lib), "nstatv": 7,
                              "props": [E, nu, K, n, 0.0, T_ref], "statev_names": UMAT_STATEV,
                              "alpha": alpha, "T_ref": T_ref})
    assert isinstance(umat, Material) and umat.n_state == 13
    cols = [umat.state_names.index(name) for name in ref.state_names]   # by name, any order
    rng = np.random.default_rng(11)
    npt = 4
    eps, s_ref, s_umat = np.zeros((npt, 6)), ref.initial_state(npt), umat.initial_state(npt)
    T = np.full(npt, T_ref)
    direction = rng.standard_normal((npt, 6))            # multiaxial, with shears
    for k in range(30):
        amp = 3e-4 * (1.0 if (k // 10) % 2 == 0 else -1.0)      # load, reverse, reload
        deps = amp * direction + 5e-5 * rng.standard_normal((npt, 6))
        T_n, T = T, T + rng.uniform(-5.0, 25.0, npt)
        dt = float(rng.uniform(0.1, 20.0))
        a = ref.integrate(eps, deps, s_ref, dt, T, T_n)
        b = umat.integrate(eps, deps, s_umat, dt, T, T_n)
        np.testing.assert_allclose(b[0], a[0], rtol=0, atol=1e-10 * np.abs(a[0]).max())
        np.testing.assert_allclose(b[1], a[1], rtol=0, atol=1e-10 * np.abs(a[1]).max())
        np.testing.assert_allclose(b[2][:, cols], a[2], rtol=0, atol=1e-10 * np.abs(a[2]).max())
        np.testing.assert_allclose(b[2][:, :6], a[0], rtol=0, atol=1e-10 * np.abs(a[0]).max())
        eps, s_ref, s_umat = eps + deps, a[2], b[2]
    assert s_ref[:, 6].min() > 1e-3                        # viscoplastic flow did happen
    assert np.abs(s_ref[:, 3:6]).max() > 1e-4              # shears exercised (order matters)


def test_umat_tangent_fd(norton_umat_lib):
    umat = UmatMaterial(norton_umat_lib, [200e3, 0.3, 300.0, 4.0, 1e-5, 0.0], 7, UMAT_STATEV)
    rng = np.random.default_rng(12)
    eps_n, deps = 1e-3 * rng.standard_normal((3, 6)), 2e-3 * rng.standard_normal((3, 6))
    state = umat.initial_state(3)
    state[:, :6] = umat.integrate(np.zeros((3, 6)), eps_n, state, 1.0, 0.0)[0]
    assert_tangent(umat, eps_n, deps, state, 1.0, 100.0, 0.0, h=1e-8)


def test_umat_bad_inputs(norton_umat_lib, tmp_path):
    base = {"law": "umat", "library": str(norton_umat_lib), "nstatv": 7,
            "props": [200e3, 0.3, 300.0, 4.0, 0.0, 0.0]}
    with pytest.raises(InputError, match="material.library"):
        make_material(dict(base, library=str(tmp_path / "missing.so")))
    (tmp_path / "junk.so").write_text("not a library")
    with pytest.raises(InputError, match="material.library"):
        make_material(dict(base, library=str(tmp_path / "junk.so")))
    with pytest.raises(InputError, match="material.symbol"):
        make_material(dict(base, symbol="vumat_"))
    with pytest.raises(InputError, match="material.statev_names"):
        make_material(dict(base, statev_names=["a", "b"]))
    with pytest.raises(InputError, match="material.nstatv"):
        make_material(dict(base, nstatv=-1))
    with pytest.raises(InputError, match="material.cmnam"):
        make_material(dict(base, cmnam="X"))


CUTBACK_UMAT = r"""
#include <stddef.h>
/* elastic-free dummy: stress = 0, asks for a smaller step when DTIME > 1 */
void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd,
           double *scd, double *rpl, double *ddsddt, double *drplde, double *drpldt,
           double *stran, double *dstran, double *time, double *dtime, double *temp,
           double *dtemp, double *predef, double *dpred, char *cmname, int *ndi, int *nshr,
           int *ntens, int *nstatv, double *props, int *nprops, double *coords, double *drot,
           double *pnewdt, double *celent, double *dfgrd0, double *dfgrd1, int *noel, int *npt,
           int *layer, int *kspt, int *kstep, int *kinc, size_t cmname_len)
{
    int i;
    for (i = 0; i < 36; i++) ddsdde[i] = (i % 7 == 0) ? props[0] : 0.0;
    for (i = 0; i < 6; i++) stress[i] = props[0] * (stran[i] + dstran[i]) + 1000.0 * i;
    statev[0] = *noel + 0.5 * (cmname_len == 80) + 0.25 * (cmname[0] == 'C');
    if (*dtime > 1.0) *pnewdt = 0.25;
}
"""


def test_umat_pnewdt_and_conventions(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found: cannot build the test UMAT")
    (tmp_path / "cut.c").write_text(CUTBACK_UMAT)
    lib = tmp_path / "libcut.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(lib), str(tmp_path / "cut.c")],
                   check=True, timeout=120)
    umat = UmatMaterial(lib, [7.0], 1, cmname="CUT")
    sig, C, state = umat.integrate(np.zeros((2, 6)), np.ones((2, 6)), umat.initial_state(2),
                                   0.5, 0.0)
    # Abaqus component i is distrom component ABAQUS_ORDER[i]: 12 13 23 -> 12 31 23
    np.testing.assert_array_equal(sig[0], 7.0 + 1000.0 * np.array([0, 1, 2, 3, 5, 4]))
    np.testing.assert_array_equal(C[0], 7.0 * np.eye(6))
    np.testing.assert_array_equal(state[:, 6], [1.75, 2.75])   # NOEL, CMNAME length and text
    np.testing.assert_array_equal(state[:, :6], sig)
    with pytest.raises(ConvergenceError, match="PNEWDT"):
        umat.integrate(np.zeros((2, 6)), np.ones((2, 6)), umat.initial_state(2), 2.0, 0.0)
