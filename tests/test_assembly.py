# SPDX-License-Identifier: BSD-3-Clause
"""Vectorized element kernels and the distributed assembly against serial NumPy references."""
from __future__ import annotations

import numpy as np
import pytest

from distrom.mechanics.assembly import (DofMap, b_matrices, gradient_operators, internal_forces,
                                        stiffness_matrices, strains)
from distrom.mesh.box import box_mesh
from distrom.mesh.elements import get_element
from distrom.mesh.mesh import CellBlock, Mesh

TYPES = ["hex8", "hex20", "tet4", "tet10", "wedge6", "wedge15"]


def _iso_tangent(E=200e3, nu=0.3):
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[np.arange(3), np.arange(3)] += 2 * mu
    D[np.arange(3, 6), np.arange(3, 6)] = mu  # engineering shears
    return D


def wedge_mesh(n: int = 2, quadratic: bool = False) -> Mesh:
    """A unit cube of wedges (each hex split in two), with box node/face sets."""
    from distrom.mechanics.config import _add_box_sets

    hexm = box_mesh(n, n, n, element="hex8")
    c = hexm.cells[0].connectivity
    w = np.concatenate([c[:, [0, 1, 2, 4, 5, 6]], c[:, [0, 2, 3, 4, 6, 7]]])
    nodes = hexm.nodes
    if quadratic:  # add the mid-edge nodes in wedge15's edge order
        edges = np.array(get_element("wedge15").edges)
        pairs = np.sort(w[:, edges], axis=2).reshape(-1, 2)
        uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
        mid = 0.5 * (nodes[uniq[:, 0]] + nodes[uniq[:, 1]])
        w = np.hstack([w, len(nodes) + inv.reshape(len(w), -1)])
        nodes = np.vstack([nodes, mid])
    mesh = Mesh(nodes, [CellBlock("wedge15" if quadratic else "wedge6", w)])
    _add_box_sets(mesh)
    return mesh


def mesh_of(elem: str, n: int = 2) -> Mesh:
    if elem.startswith("wedge"):
        return wedge_mesh(n, quadratic=elem == "wedge15")
    return box_mesh(n, n, n, element=elem)


def _rigid_modes(X):
    """Six rigid-body displacement fields at points X (n, 3): shape (6, n, 3)."""
    out = np.zeros((6, len(X), 3))
    for i in range(3):
        out[i, :, i] = 1.0
    for k, (a, b) in enumerate(((0, 1), (1, 2), (2, 0))):
        out[3 + k, :, a] = -X[:, b]
        out[3 + k, :, b] = X[:, a]
    return out


def _block_kernels(mesh):
    b = mesh.cells[0]
    el = get_element(b.type)
    xi, w = el.quadrature()
    grad, wdet = gradient_operators(mesh.nodes[b.connectivity], el.shape_derivs(xi), w)
    return b, grad, wdet


@pytest.mark.parametrize("elem", TYPES)
def test_kernels_volume_rigid_modes_and_symmetry(elem):
    mesh = mesh_of(elem, 2)
    b, grad, wdet = _block_kernels(mesh)
    assert abs(wdet.sum() - 1.0) < 1e-12  # the unit cube
    D = np.broadcast_to(_iso_tangent(), wdet.shape + (6, 6))
    K = stiffness_matrices(grad, wdet, D)
    assert np.allclose(K, K.transpose(0, 2, 1), atol=1e-9 * np.abs(K).max())
    X = mesh.nodes[b.connectivity]                       # (nc, nn, 3)
    for m in range(6):
        r = np.stack([_rigid_modes(x)[m] for x in X])    # (nc, nn, 3)
        assert np.abs(strains(grad, r)).max() < 1e-12
        Kr = np.einsum("cab,cb->ca", K, r.reshape(len(X), -1))
        assert np.abs(Kr).max() < 1e-9 * np.abs(K).max()
    # 6 zero eigenvalues, the rest positive: no spurious (hourglass) modes with full integration
    ev = np.linalg.eigvalsh(K[0])
    assert np.sum(ev < 1e-8 * ev.max()) == 6


@pytest.mark.parametrize("elem", TYPES)
def test_strain_force_consistency_with_b(elem):
    """strains() and internal_forces() agree with the explicit B matrices; f = K u for elasticity."""
    mesh = mesh_of(elem, 2)
    b, grad, wdet = _block_kernels(mesh)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((len(b), b.connectivity.shape[1], 3))
    B = b_matrices(grad)
    eps_ref = np.einsum("cqsa,ca->cqs", B, u.reshape(len(b), -1))
    eps = strains(grad, u)
    assert np.allclose(eps, eps_ref, rtol=0, atol=1e-12 * np.abs(eps_ref).max())
    D = _iso_tangent()
    sig = eps @ D.T
    f = internal_forces(grad, wdet, sig).reshape(len(b), -1)
    K = stiffness_matrices(grad, wdet, np.broadcast_to(D, wdet.shape + (6, 6)))
    Ku = np.einsum("cab,cb->ca", K, u.reshape(len(b), -1))
    assert np.allclose(f, Ku, rtol=0, atol=1e-10 * np.abs(Ku).max())


def test_dofmap_follows_owner():
    owner = np.array([1, 0, 2, 1, 0, 0, 2])
    for rank in range(3):
        dm = DofMap(owner, 3, rank)
        lo, hi = dm.node_range
        assert np.all(owner[dm.owned_nodes] == rank)
        assert np.all(np.diff(dm.owned_nodes) > 0)
        assert np.array_equal(dm.new_of_node[dm.owned_nodes], np.arange(lo, hi))
        assert dm.dof_range == (3 * lo, 3 * hi)
    dm = DofMap(owner, 3, 0)
    assert sorted(dm.new_of_node.tolist()) == list(range(7))


def _numpy_global_matrix(mesh, D, dofmap):
    """Dense reference assembly (loop over cells: fine for a tiny mesh), partition numbering."""
    N = 3 * mesh.n_nodes
    A = np.zeros((N, N))
    for b in mesh.cells:
        el = get_element(b.type)
        xi, w = el.quadrature()
        for conn in b.connectivity:
            grad, wdet = gradient_operators(mesh.nodes[conn][None], el.shape_derivs(xi), w)
            Ke = stiffness_matrices(grad, wdet, np.broadcast_to(D, wdet.shape + (6, 6)))[0]
            d = dofmap.dofs(conn).ravel()
            A[np.ix_(d, d)] += Ke
    return A


@pytest.mark.mpi
@pytest.mark.parametrize("elem", ["hex8", "tet10"])
def test_distributed_matrix_and_residual_match_numpy(comm, elem):
    """The MPIAIJ tangent and the residual at P ranks equal a serial dense NumPy assembly."""
    from petsc4py import PETSc

    from distrom.mechanics.assembly import Assembler
    from distrom.mesh.partition import partition_mesh

    mesh = box_mesh(3, 2, 2, lengths=(1.5, 1.0, 1.0), element=elem)
    part = partition_mesh(mesh, comm.size, comm)
    asm = Assembler(mesh, part.cell_part, part.node_owner, comm)
    D = _iso_tangent()
    J = asm.matrix_assemble(np.broadcast_to(D, (asm.n_ip_local, 6, 6)).copy())
    # gather the distributed matrix on every rank as dense
    lo, hi = J.getOwnershipRange()
    assert (lo, hi) == asm.dofmap.dof_range  # PETSc's ownership is the subdomain's nodes
    indptr, indices, data = J.getValuesCSR()
    local = np.zeros((hi - lo, J.getSize()[1]))
    rows = np.repeat(np.arange(hi - lo), np.diff(indptr))
    local[rows, indices] = data
    A = np.vstack(comm.allgather(local))
    ref = _numpy_global_matrix(mesh, D, asm.dofmap)
    assert np.abs(A - ref).max() < 1e-12 * np.abs(ref).max()
    # internal force of a random field: f_int = K u
    rng = np.random.default_rng(1)
    U = rng.standard_normal((mesh.n_nodes, 3))
    u = asm.create_vec()
    u.setArray(U[asm.dofmap.owned_nodes].ravel())
    eps = asm.local_strains(asm.gather_touched(u))
    f = asm.create_vec()
    asm.vector_assemble(asm.internal_force(eps @ D.T), f)
    Uref = np.zeros(3 * mesh.n_nodes)
    Uref[asm.dofmap.dofs(np.arange(mesh.n_nodes)).ravel()] = U.ravel()
    fref = (ref @ Uref)[lo:hi]
    assert np.abs(f.getArray() - fref).max() < 1e-11 * np.abs(fref).max()
    # rigid-body near-nullspace from the coordinates lies in the kernel of the unconstrained K
    ns = PETSc.NullSpace().createRigidBody(asm.coordinates_vec())
    y = asm.create_vec()
    for v in ns.getVecs():
        J.mult(v, y)
        assert y.norm() < 1e-9 * J.norm()
