# SPDX-License-Identifier: BSD-3-Clause
"""The embedded HF solver: exactness tests, analytic solutions, Newton rate, errors, restarts."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from distrom.errors import ConvergenceError, InputError
from distrom.io import open_case
from distrom.mechanics.config import load_config, parse_config
from distrom.mechanics.solver import RestartState, solve

E, NU = 200e3, 0.3
SYM = [{"set": "x0", "components": "x"}, {"set": "y0", "components": "y"}, {"set": "z0", "components": "z"}]


def cfg(**over):
    c = {"mesh": {"type": "box", "n": [2, 2, 2], "lengths": [1.0, 1.0, 1.0], "element": "hex8"},
         "material": {"law": "elastic", "E": E, "nu": NU},
         "dirichlet": copy.deepcopy(SYM),
         "time": {"times": [1.0]}}
    c.update(over)
    return c


def run(c, path, comm=None, **kw):
    from mpi4py import MPI

    return solve(parse_config(c, "test.toml"), path, MPI.COMM_SELF if comm is None else comm, **kw)


def read(path, name, step=-1):
    from mpi4py import MPI

    with open_case(path, MPI.COMM_SELF) as case:
        k = case.n_steps - 1 if step == -1 else step
        info = case.fields[name]
        return case.read_field(name, k, rows=(0, info.n_rows))


def _iso(E=E, nu=NU):
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[np.arange(3), np.arange(3)] += 2 * mu
    D[np.arange(3, 6), np.arange(3, 6)] = mu
    return D


# ---- patch test on the assembled system, every element type -------------------------------
@pytest.mark.parametrize("elem", ["hex8", "hex20", "tet4", "tet10", "wedge6", "wedge15"])
def test_patch_test_linear_field_exact(elem, tmp_path):
    from test_assembly import mesh_of

    A = np.array([[1.0, 2.0, -0.5], [0.3, -1.0, 0.7], [-0.2, 0.4, 0.9]]) * 1e-3
    b = np.array([1e-3, -2e-3, 5e-4])
    expr = [" + ".join([f"({A[i, j]!r})*{'xyz'[j]}" for j in range(3)]) + f" + ({b[i]!r})" for i in range(3)]
    c = cfg(dirichlet=[{"set": ["x0", "x1", "y0", "y1", "z0", "z1"], "components": "xyz", "value": expr}])
    pb = parse_config(c, "patch.toml")
    mesh = mesh_of(elem, 3)
    pb.mesh_spec = {"type": "object", "mesh": mesh}
    from mpi4py import MPI

    solve(pb, tmp_path / "p.h5", MPI.COMM_SELF)
    U = read(tmp_path / "p.h5", "U")
    exact = mesh.nodes @ A.T + b
    interior = np.ones(mesh.n_nodes, bool)
    for s in ("x0", "x1", "y0", "y1", "z0", "z1"):
        interior[mesh.node_sets[s]] = False
    assert interior.sum() >= 1
    assert np.abs(U - exact).max() <= 1e-10 * np.abs(exact).max()
    # the stress is the uniform elastic stress of the linear field at every integration point
    eps = np.array([A[0, 0], A[1, 1], A[2, 2], A[0, 1] + A[1, 0], A[1, 2] + A[2, 1], A[2, 0] + A[0, 2]])
    sig = read(tmp_path / "p.h5", "sig")
    assert np.abs(sig - _iso() @ eps).max() <= 1e-8 * np.abs(_iso() @ eps).max()


# ---- free thermal expansion --------------------------------------------------------------------
def test_free_thermal_expansion_exact(tmp_path):
    alpha, T_ref, T = 1.2e-5, 20.0, 520.0
    c = cfg(material={"law": "elastic", "E": E, "nu": NU, "alpha": alpha, "T_ref": T_ref},
            temperature={"value": T, "initial": T_ref, "history": {"times": [0.0, 1.0], "values": [0.0, 1.0]}},
            time={"times": [0.5, 1.0]})
    c["mesh"]["n"] = [3, 2, 2]
    run(c, tmp_path / "t.h5")
    eto, sig = read(tmp_path / "t.h5", "eto"), read(tmp_path / "t.h5", "sig")
    expected = alpha * (T - T_ref)
    assert np.abs(eto[:, :3] - expected).max() <= 1e-10 * expected
    assert np.abs(eto[:, 3:]).max() <= 1e-10 * expected
    assert np.abs(sig).max() <= 1e-8 * E * expected
    with open_case(tmp_path / "t.h5") as case:
        X = case.mesh.nodes
        U = case.read_field("U", 0, rows=(0, len(X)))
        Tn = case.read_field("T", 0, rows=(0, len(X)))
    assert np.allclose(U, 0.5 * expected * X, rtol=0, atol=1e-12)  # half way up the ramp
    assert np.allclose(Tn, T_ref + 0.5 * (T - T_ref))


# ---- uniaxial Norton creep ------------------------------------------------------------------------
NORTON = {"law": "norton", "E": E, "nu": NU, "K": 1000.0, "n": 3.0}


def test_uniaxial_norton_creep_matches_analytic(tmp_path):
    s = 150.0
    c = cfg(material=NORTON, pressure=[{"faces": "x1", "value": -s}], time={"t_end": 10.0, "n_steps": 5})
    res = run(c, tmp_path / "n.h5")
    rate = (s / NORTON["K"]) ** NORTON["n"]
    with open_case(tmp_path / "n.h5") as case:
        assert case.n_steps == 5 and np.allclose(case.times, [2, 4, 6, 8, 10])
        nr = case.fields["p"].n_rows
        for k, t in enumerate(case.times):
            p = case.read_field("p", k, rows=(0, nr))
            ep = case.read_field("ep", k, rows=(0, nr))
            eto = case.read_field("eto", k, rows=(0, nr))
            sig = case.read_field("sig", k, rows=(0, nr))
            exact = rate * t
            assert np.abs(p - exact).max() <= 1e-3 * exact
            assert np.abs(ep[:, 0] - exact).max() <= 1e-3 * exact
            assert np.abs(ep[:, 1] + 0.5 * exact).max() <= 1e-3 * exact   # incompressible flow
            assert np.abs(eto[:, 0] - (s / E + exact)).max() <= 1e-3 * (s / E + exact)
            assert np.abs(sig[:, 0] - s).max() <= 1e-6 * s
    assert res.complete and res.n_steps == 5


# ---- quadratic Newton -----------------------------------------------------------------------------
def test_newton_converges_quadratically(tmp_path):
    """A clamped Norton block (non-uniform stress, strongly nonlinear flow) in one large step."""
    c = cfg(material={"law": "norton", "E": E, "nu": NU, "K": 100.0, "n": 5.0},
            dirichlet=[{"set": "x0", "components": "xyz"}],
            pressure=[{"faces": "x1", "value": -120.0}, {"faces": "y1", "value": 40.0}],
            time={"times": [0.5]}, solver={"rtol": 1e-12, "max_cuts": 0})
    res = run(c, tmp_path / "q.h5")
    r = res.residual_histories[0]
    e = r / r[0]
    assert res.newton_iterations[0] >= 3, e  # a genuinely nonlinear step
    # quadratic: once in the asymptotic range, e_{k+1} <= C e_k^2 (a linear rate fails this)
    pairs = [(e[k], e[k + 1]) for k in range(len(e) - 1) if 1e-13 < e[k + 1] and e[k] < 1e-1]
    assert pairs, e
    for a, b in pairs:
        assert b <= 10.0 * a * a, e
    print("relative residuals", e)
    assert e[-1] < 1e-10


# ---- errors -----------------------------------------------------------------------------------------
def test_missing_node_set_is_named(tmp_path):
    with pytest.raises(InputError, match="node set 'left'.*x0"):
        run(cfg(dirichlet=[{"set": "left", "components": "x"}]), tmp_path / "e.h5")
    with pytest.raises(InputError, match="face set 'top'"):
        run(cfg(pressure=[{"faces": "top", "value": 1.0}]), tmp_path / "e.h5")
    assert not (tmp_path / "e.h5").exists()


def test_unknown_material_parameter_named():
    with pytest.raises(InputError, match=r"test.toml.*\[material\].*'Kx'"):
        parse_config(cfg(material={**NORTON, "Kx": 1.0}), "test.toml")


def test_negative_time_step_named():
    with pytest.raises(InputError, match="test.toml: time.*negative or zero time step"):
        parse_config(cfg(time={"times": [1.0, 0.5]}), "test.toml")
    with pytest.raises(InputError, match=r"time\.dt.*> 0"):
        parse_config(cfg(time={"t_end": 1.0, "dt": -0.1}), "test.toml")


def test_config_errors_name_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[mesh]\ntype = "box"\nn = [2, 2, 2]\n[material]\nlaw = "elastic"\nE = 1.0\nnu = 0.3\n'
                 '[time]\ntimes = [1.0]\n[[pressure]]\nfaces = "x1"\nvalue = "2 * q"\n')
    with pytest.raises(InputError, match=r"bad.toml: pressure\[0\].value: unknown name.*'q'"):
        load_config(p)
    p.write_text('[mesh]\ntype = "box"\nn = [2, 2]\n')
    with pytest.raises(InputError, match=r"bad.toml: mesh.n"):
        load_config(p)
    p.write_text('[mesh]\ntype = "box"\nn = [2, 2, 2]\nsize = 3\n')
    with pytest.raises(InputError, match=r"bad.toml: \[mesh\].*unknown key.*'size'"):
        load_config(p)


def test_non_convergence_raises_naming_the_step(tmp_path):
    c = cfg(material={"law": "norton", "E": E, "nu": NU, "K": 100.0, "n": 8.0},
            dirichlet=[{"set": "x0", "components": "xyz"}],
            pressure=[{"faces": "x1", "value": -150.0}],
            time={"times": [0.1, 5.0]}, solver={"max_it": 2, "max_cuts": 1})
    with pytest.raises(ConvergenceError, match=r"output step \d+ \(t = [\d.]+\).*did not converge"):
        run(c, tmp_path / "nc.h5")


def test_failure_at_step_k_keeps_previous_steps(tmp_path):
    # the load history turns NaN after t = 3: steps at t = 1, 2, 3 converge, t = 4 cannot
    c = cfg(pressure=[{"faces": "x1", "value": -100.0,
                       "history": {"times": [0.0, 3.0, 10.0], "values": [0.0, 1.0, float("nan")]}}],
            time={"times": [1.0, 2.0, 3.0, 4.0, 5.0]}, solver={"max_cuts": 2})
    with pytest.raises(ConvergenceError, match=r"output step 3 \(t = 4\).*keeps the 3 steps"):
        run(c, tmp_path / "f.h5")
    with open_case(tmp_path / "f.h5") as case:
        assert case.n_steps == 3 and not case.complete
        assert "output step 3" in str(case.attrs["incomplete_reason"])
        U = case.read_field("U", 2, rows=(0, case.mesh.n_nodes))
    assert abs(U[:, 0].max() - 100.0 / E) < 1e-12


# ---- restart ------------------------------------------------------------------------------------
def test_restart_reproduces_the_continued_run(tmp_path):
    c = cfg(material=NORTON, pressure=[{"faces": "x1", "value": "-s"}, {"faces": "y1", "value": 30.0}],
            dirichlet=[{"set": "x0", "components": "xyz"}], parameters={"s": [150.0, 180.0]},
            time={"times": [1.0, 2.0, 3.0]})
    run(c, tmp_path / "full.h5")
    rs = RestartState.from_case(tmp_path / "full.h5", 4)  # sample 1, t = 2
    assert rs.parameters == {"s": 180.0} and rs.time == 2.0
    run(c, tmp_path / "r.h5", restart=rs)
    with open_case(tmp_path / "r.h5") as case:
        assert case.n_steps == 1 and np.allclose(case.times, [3.0])
    for name in ("U", "sig", "p", "state"):
        a, b = read(tmp_path / "full.h5", name, 5), read(tmp_path / "r.h5", name, 0)
        assert np.abs(a - b).max() <= 1e-9 * np.abs(a).max(), name


# ---- loads: resultants ----------------------------------------------------------------------------
def test_pressure_and_centrifugal_resultants(comm):
    from distrom.mechanics.assembly import Assembler
    from distrom.mechanics.loads import centrifugal_forces, pressure_forces
    from distrom.mesh.box import box_mesh
    from distrom.mesh.partition import partition_mesh

    for elem in ("hex8", "tet10", "hex20"):
        mesh = box_mesh(2, 3, 2, lengths=(2.0, 1.0, 0.5), element=elem, origin=(1.0, 0.0, 0.0))
        part = partition_mesh(mesh, 1, None)
        _, f = pressure_forces(mesh, mesh.face_sets["x1"], part.cell_part, 0)
        assert np.allclose(f.sum(axis=0), [-0.5, 0.0, 0.0])           # -p n A, A = 1 x 0.5
        _, f = pressure_forces(mesh, mesh.face_sets["z0"], part.cell_part, 0)
        assert np.allclose(f.sum(axis=0), [0.0, 0.0, 2.0])            # n = -z, A = 2
        from mpi4py import MPI
        asm = Assembler(mesh, part.cell_part, part.node_owner, MPI.COMM_SELF)
        fc = centrifugal_forces(asm, [0, 0, 1], np.zeros(3), 3.0)
        total = sum(x.sum(axis=(0, 1)) for x in fc)
        V = 2.0 * 1.0 * 0.5
        assert np.allclose(total, 3.0 * V * np.array([2.0, 0.5, 0.0]))  # rho V r_centroid


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_hf(tmp_path):
    from distrom.cli.main import main

    p = tmp_path / "s.toml"
    p.write_text('[mesh]\ntype = "box"\nn = [2, 2, 2]\n[material]\nlaw = "elastic"\nE = 1000.0\nnu = 0.25\n'
                 '[[dirichlet]]\nset = "x0"\n[[pressure]]\nfaces = "x1"\nvalue = "-p"\n'
                 '[parameters]\np = [1.0, 2.0]\n[time]\nt_end = 1.0\nn_steps = 2\n')
    assert main(["hf", str(p), "-o", str(tmp_path / "c.h5")]) == 0
    with open_case(tmp_path / "c.h5") as case:
        assert case.n_steps == 4 and list(case.parameter_names) == ["p"]
        assert np.allclose(case.samples[:, 0], [1.0, 2.0]) and np.array_equal(case.step_sample, [0, 0, 1, 1])
        u1 = case.read_field("U", 1, rows=(0, case.mesh.n_nodes))
        u3 = case.read_field("U", 3, rows=(0, case.mesh.n_nodes))
    assert np.allclose(u3, 2.0 * u1, rtol=1e-10, atol=1e-14)  # linear elasticity
    assert main(["hf", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "x.h5")]) == 2
    # restart from step 0 (sample 0, t = 0.5): one step to t = 1 equal to the original step 1
    assert main(["hf", str(p), "-o", str(tmp_path / "r.h5"), "--restart", f"{tmp_path / 'c.h5'}:0"]) == 0
    assert np.allclose(read(tmp_path / "r.h5", "U", 0), u1, rtol=1e-10, atol=1e-14)
    assert main(["hf", str(p), "-o", str(tmp_path / "r2.h5"), "--restart", f"{tmp_path / 'c.h5'}:1"]) == 2


# ---- P = 1, 2, 3: identical results -------------------------------------------------------------
@pytest.mark.mpi
def test_same_results_at_any_rank_count(comm, shared_tmp):
    """Thermo-mechanical Norton + centrifugal on COMM_WORLD equals the serial run on rank 0."""
    from mpi4py import MPI

    c = cfg(material={**NORTON, "K": 300.0, "alpha": 1e-5, "T_ref": 20.0, "density": 8e-9},
            dirichlet=[{"set": "x0", "components": "xyz"}],
            pressure=[{"faces": "x1", "value": "-s"}],
            centrifugal={"speed": 2000.0, "axis": [0, 0, 1], "center": [-5.0, 0.0, 0.0]},
            temperature={"value": "20 + 300 * x / 4", "initial": 20.0,
                         "history": {"times": [0.0, 1.0, 2.0], "values": [0.0, 1.0, 0.0], "cyclic": True}},
            parameters={"s": [80.0, 120.0]}, time={"times": [0.5, 1.0]})
    c["mesh"] = {"type": "box", "n": [5, 2, 2], "lengths": [4.0, 1.0, 1.0], "element": "hex8"}
    res = run(c, shared_tmp / "par.h5", comm)
    assert res.n_steps == 4 and res.complete
    ok, msg = True, ""
    if comm.rank == 0:
        run(c, shared_tmp / "ser.h5", MPI.COMM_SELF)
        for name in ("U", "sig", "eto", "ep", "p", "T"):
            for k in range(4):
                a, b = read(shared_tmp / "par.h5", name, k), read(shared_tmp / "ser.h5", name, k)
                err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
                if not err <= 1e-8:
                    ok, msg = False, f"{name} step {k}: relative difference {err:.2e}"
        with open_case(shared_tmp / "par.h5", MPI.COMM_SELF) as case:
            assert case.partition.n_parts == comm.size
        assert np.abs(read(shared_tmp / "ser.h5", "p", 3)).max() > 1e-5  # viscoplastic flow happened
    ok, msg = comm.bcast((ok, msg), root=0)
    assert ok, msg


# ---- other mesh sources ---------------------------------------------------------------------
def test_mesh_from_meshio_file_and_gmsh_optional(tmp_path):
    import importlib.util

    from distrom.mesh.box import box_mesh

    meshio = pytest.importorskip("meshio")
    m = box_mesh(2, 2, 2, lengths=(2.0, 1.0, 1.0), element="hex8")
    meshio.write(tmp_path / "b.vtu", meshio.Mesh(m.nodes, [("hexahedron", m.cells[0].connectivity)]))
    c = cfg(mesh={"type": "file", "path": str(tmp_path / "b.vtu")}, pressure=[{"faces": "x1", "value": -100.0}])
    run(c, tmp_path / "f.h5")
    U = read(tmp_path / "f.h5", "U")
    assert abs(U[:, 0].max() - 2.0 * 100.0 / E) < 1e-12   # uniaxial: u = L s / E
    g = cfg(mesh={"type": "gmsh", "geometry": "holed_plate", "size": 0.3, "element": "tet4"})
    if importlib.util.find_spec("gmsh") is None:
        with pytest.raises(InputError, match="optional 'gmsh' package"):
            run(g, tmp_path / "g.h5")
    else:  # pragma: no cover - only where gmsh is installed
        run(g, tmp_path / "g.h5")
        assert read(tmp_path / "g.h5", "U").shape[1] == 3


def test_part_meshes_volume_and_sets():
    from distrom.mechanics.parts import blade, holed_plate

    from test_assembly import _block_kernels

    for elem in ("hex8", "hex20"):
        m = holed_plate((6, 8, 2), element=elem, width=10.0, height=8.0, radius=2.0, thickness=1.0)
        _, _, wdet = _block_kernels(m)
        assert abs(wdet.sum() - (80.0 - np.pi)) < (2e-3 if elem == "hex8" else 2e-5) * 80.0
        assert np.allclose(m.nodes[m.node_sets["right"], 0], 10.0)
        assert np.allclose(m.nodes[m.node_sets["top"], 1], 8.0)
        assert np.allclose(np.hypot(*m.nodes[m.node_sets["hole"], :2].T), 2.0)
        assert len(m.face_sets["right"]) + len(m.face_sets["top"]) == len(m.face_sets["x1"])
        b = blade((6, 4, 2), element=elem)
        _, _, wdet = _block_kernels(b)
        assert wdet.min() > 0 and np.allclose(b.nodes[b.node_sets["root"], 0], 100.0)


@pytest.mark.mpi
def test_errors_raise_on_every_rank_and_failures_keep_steps_in_parallel(comm, shared_tmp):
    with pytest.raises(InputError, match="node set 'left'"):
        run(cfg(dirichlet=[{"set": "left", "components": "x"}]), shared_tmp / "e.h5", comm)
    c = cfg(pressure=[{"faces": "x1", "value": -100.0,
                       "history": {"times": [0.0, 2.0, 10.0], "values": [0.0, 1.0, float("nan")]}}],
            time={"times": [1.0, 2.0, 3.0]}, solver={"max_cuts": 1})
    c["mesh"]["n"] = [3, 2, 2]
    with pytest.raises(ConvergenceError, match=r"output step 2 \(t = 3\)"):
        run(c, shared_tmp / "f.h5", comm)
    with open_case(shared_tmp / "f.h5", comm) as case:
        assert case.n_steps == 2 and not case.complete


def test_laws_treated_as_symmetric_have_symmetric_tangents():
    """The solver uses Cholesky / CG for these laws: their consistent tangents must be symmetric."""
    from distrom.mechanics.materials import make_material
    from distrom.mechanics.solver import _SYMMETRIC_LAWS

    specs = {"elastic": {"law": "elastic", "E": E, "nu": NU},
             "norton": dict(NORTON),
             "chaboche": {"law": "chaboche", "E": E, "nu": NU, "R0": 100.0, "C": [50e3, 5e3],
                          "gamma": [300.0, 20.0], "K": 200.0, "n": 5.0, "Q": 50.0, "b": 5.0}}
    rng = np.random.default_rng(3)
    for law in _SYMMETRIC_LAWS:
        m = make_material(specs[law])
        eps = rng.standard_normal((40, 6)) * 3e-3
        _, D, st = m.integrate(np.zeros((40, 6)), eps, m.initial_state(40), 1.0, 20.0)
        _, D2, _ = m.integrate(eps, 0.5 * eps, st, 0.5, 20.0)
        for T in (D, D2):
            assert np.abs(T - T.transpose(0, 2, 1)).max() <= 1e-10 * np.abs(T).max(), law
