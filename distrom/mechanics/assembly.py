# SPDX-License-Identifier: BSD-3-Clause
"""Vectorized finite-element kernels and the distributed PETSc assembly of the HF solver.

Two layers:

* NumPy kernels, one call per element type over all (a chunk of) cells at once:
  :func:`gradient_operators` (shape-function gradients and weights at the integration points),
  :func:`b_matrices` (strain-displacement operators, engineering shears), :func:`strains`,
  :func:`internal_forces`, :func:`stiffness_matrices`. They use einsum / batched ``matmul`` only;
  no Python loop runs over elements.
* :class:`DofMap` and :class:`Assembler`: the dof numbering that follows the partition (the
  nodes rank ``r`` owns form one contiguous range of global node numbers, so PETSc's row
  ownership of the MPIAIJ matrix *is* the subdomain) and the global assembly: the matrix is
  preallocated with its exact CSR structure, computed once from the connectivity; every
  assembly then sums the element matrices into that structure with one ``bincount`` and hands
  PETSc one CSR block for the owned rows plus one dense block per interface node owned by
  another rank.

Voigt order ``11 22 33 12 23 31`` with ENGINEERING shear strains (``gamma_12 = 2 eps_12``);
stresses are plain tensor components in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DofMap", "Assembler", "BlockGeometry", "gradient_operators", "b_matrices", "strains",
           "internal_forces", "stiffness_matrices", "VOIGT_PAIRS"]

#: tensor index pairs of the six Voigt components
VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0))

# cells per chunk in the hot loops: bounds the temporary B / K arrays (hex20: 27 x 6 x 60 per cell)
_CHUNK = 4096


# ------------------------------------------------------------------------------------------
# NumPy kernels
# ------------------------------------------------------------------------------------------
def gradient_operators(coords: np.ndarray, dshape: np.ndarray, weights: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Shape-function gradients in physical space and integration weights.

    Parameters
    ----------
    coords : ndarray, shape (n_cells, n_nodes, 3)
        Node coordinates of each cell.
    dshape : ndarray, shape (n_q, n_nodes, 3)
        Derivatives of the shape functions with respect to the reference coordinates.
    weights : ndarray, shape (n_q,)
        Quadrature weights on the reference element.

    Returns
    -------
    grad : ndarray, shape (n_cells, n_q, n_nodes, 3)
        ``dN_n / dx_j`` at each integration point.
    wdet : ndarray, shape (n_cells, n_q)
        ``weight * det(J)``: the volume each integration point stands for.
    """
    # J[c, q, a, b] = d x_a / d xi_b
    jac = np.einsum("cna,qnb->cqab", coords, dshape, optimize=True)
    det = np.linalg.det(jac)
    if np.any(det <= 0.0):
        bad = int(np.argmin(det.min(axis=1)))
        raise ValueError(f"non-positive Jacobian determinant {det.min():.3e} in cell {bad} of the block "
                         "(inverted or degenerate element, or a node ordering that is not distrom's)")
    inv = np.linalg.inv(jac)  # inv[c, q, b, a] = d xi_b / d x_a
    grad = np.einsum("qnb,cqba->cqna", dshape, inv, optimize=True)
    return grad, det * weights[None, :]


def b_matrices(grad: np.ndarray) -> np.ndarray:
    """Strain-displacement operators with engineering shears.

    Parameters
    ----------
    grad : ndarray, shape (n_cells, n_q, n_nodes, 3)

    Returns
    -------
    B : ndarray, shape (n_cells, n_q, 6, 3 * n_nodes)
        Element dofs are node-major (``3 * node + component``).
    """
    nc, nq, nn, _ = grad.shape
    B = np.zeros((nc, nq, 6, nn, 3))
    g0, g1, g2 = grad[..., 0], grad[..., 1], grad[..., 2]
    B[:, :, 0, :, 0] = g0
    B[:, :, 1, :, 1] = g1
    B[:, :, 2, :, 2] = g2
    B[:, :, 3, :, 0] = g1
    B[:, :, 3, :, 1] = g0
    B[:, :, 4, :, 1] = g2
    B[:, :, 4, :, 2] = g1
    B[:, :, 5, :, 2] = g0
    B[:, :, 5, :, 0] = g2
    return B.reshape(nc, nq, 6, 3 * nn)


def strains(grad: np.ndarray, u_cells: np.ndarray) -> np.ndarray:
    """Voigt strains (engineering shears) at the integration points.

    Parameters
    ----------
    grad : ndarray, shape (n_cells, n_q, n_nodes, 3)
    u_cells : ndarray, shape (n_cells, n_nodes, 3)

    Returns
    -------
    ndarray, shape (n_cells, n_q, 6)
    """
    # H[c, q, i, j] = d u_i / d x_j
    H = np.einsum("cni,cqnj->cqij", u_cells, grad, optimize=True)
    eps = np.empty(H.shape[:2] + (6,))
    eps[..., 0] = H[..., 0, 0]
    eps[..., 1] = H[..., 1, 1]
    eps[..., 2] = H[..., 2, 2]
    eps[..., 3] = H[..., 0, 1] + H[..., 1, 0]
    eps[..., 4] = H[..., 1, 2] + H[..., 2, 1]
    eps[..., 5] = H[..., 2, 0] + H[..., 0, 2]
    return eps


def internal_forces(grad: np.ndarray, wdet: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Element internal force vectors ``sum_q B^T sigma w detJ``.

    Parameters
    ----------
    grad : ndarray, shape (n_cells, n_q, n_nodes, 3)
    wdet : ndarray, shape (n_cells, n_q)
    sigma : ndarray, shape (n_cells, n_q, 6)
        Voigt stresses (tensor components).

    Returns
    -------
    ndarray, shape (n_cells, n_nodes, 3)
    """
    s = sigma * wdet[..., None]
    # full symmetric tensor, then f[c, n, i] = sum_q sum_j S_ij dN_n/dx_j
    S = np.empty(s.shape[:2] + (3, 3))
    for k, (i, j) in enumerate(VOIGT_PAIRS):
        S[..., i, j] = s[..., k]
        S[..., j, i] = s[..., k]
    return np.einsum("cqij,cqnj->cni", S, grad, optimize=True)


def stiffness_matrices(grad: np.ndarray, wdet: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Element tangent matrices ``sum_q B^T D B w detJ`` by batched BLAS.

    Parameters
    ----------
    grad : ndarray, shape (n_cells, n_q, n_nodes, 3)
    wdet : ndarray, shape (n_cells, n_q)
    tangent : ndarray, shape (n_cells, n_q, 6, 6)
        ``d sigma / d eps`` (engineering shears).

    Returns
    -------
    ndarray, shape (n_cells, 3 * n_nodes, 3 * n_nodes)
    """
    B = b_matrices(grad)
    nc, nq, _, nd = B.shape
    DB = np.matmul(tangent * wdet[..., None, None], B)          # (nc, nq, 6, nd)
    Bt = B.reshape(nc, nq * 6, nd).transpose(0, 2, 1)           # (nc, nd, nq*6)
    return np.matmul(Bt, DB.reshape(nc, nq * 6, nd))            # (nc, nd, nd)


# ------------------------------------------------------------------------------------------
# numbering
# ------------------------------------------------------------------------------------------
class DofMap:
    """Node and dof numbering that follows the partition.

    Nodes are renumbered owner-major (stable within each owner), so the nodes of rank ``r`` get
    the contiguous numbers ``node_offsets[r] .. node_offsets[r+1]-1``; the dofs of node ``p``
    (new number) are ``3p, 3p+1, 3p+2``. PETSc's row ownership of vectors and matrices built
    with :attr:`n_owned_dofs` local rows is then exactly this rank's nodes.

    Parameters
    ----------
    node_owner : ndarray, shape (n_nodes,), int
        Owning rank of each mesh node (storage order).
    n_parts : int
    rank : int
    """

    def __init__(self, node_owner: np.ndarray, n_parts: int, rank: int) -> None:
        node_owner = np.asarray(node_owner, dtype=np.int64)
        self.n_nodes = len(node_owner)
        order = np.argsort(node_owner, kind="stable")
        self.new_of_node = np.empty(self.n_nodes, dtype=np.int64)
        self.new_of_node[order] = np.arange(self.n_nodes, dtype=np.int64)
        self.node_of_new = order
        counts = np.bincount(node_owner, minlength=n_parts)
        self.node_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.rank = rank
        lo, hi = self.node_offsets[rank], self.node_offsets[rank + 1]
        #: mesh node indices (storage order) owned here, in the order of their dofs
        self.owned_nodes = order[lo:hi]
        self.node_range = (int(lo), int(hi))
        self.dof_range = (3 * int(lo), 3 * int(hi))
        self.node_owner = node_owner

    @property
    def n_dofs(self) -> int:
        return 3 * self.n_nodes

    @property
    def n_owned_dofs(self) -> int:
        return self.dof_range[1] - self.dof_range[0]

    def dofs(self, nodes: np.ndarray) -> np.ndarray:
        """Global dof numbers of mesh nodes: shape ``nodes.shape + (3,)``."""
        p = self.new_of_node[np.asarray(nodes, dtype=np.int64)]
        return 3 * p[..., None] + np.arange(3)

    def owned_dof_of_node_component(self, nodes: np.ndarray, components: np.ndarray
                                    ) -> np.ndarray:
        """Global dofs of (node, component) pairs restricted to the nodes this rank owns."""
        nodes = np.asarray(nodes, dtype=np.int64)
        mine = self.node_owner[nodes] == self.rank
        d = self.dofs(nodes[mine])[:, np.asarray(components, dtype=np.int64)]
        return d.ravel()


# ------------------------------------------------------------------------------------------
# the distributed assembler
# ------------------------------------------------------------------------------------------
@dataclass
class BlockGeometry:
    """Cells of one element type assigned to this rank, with their integration data.

    Attributes
    ----------
    type : str
    block : int
        Index of the block in ``mesh.cells``.
    cells : ndarray (n_c,)
        Indices of the local cells within the block.
    conn : ndarray (n_c, n_n)
        Mesh node indices.
    tconn : ndarray (n_c, n_n)
        Indices into this rank's touched nodes (:attr:`Assembler.touched_nodes`).
    grad : ndarray (n_c, n_q, n_n, 3)
    wdet : ndarray (n_c, n_q)
    shape : ndarray (n_q, n_n)
        Shape functions at the integration points (body loads, nodal fields at points).
    ip_slice : slice
        This block's rows in the rank's local integration-point arrays.
    """

    type: str
    block: int
    cells: np.ndarray
    conn: np.ndarray
    tconn: np.ndarray
    grad: np.ndarray
    wdet: np.ndarray
    shape: np.ndarray
    ip_slice: slice

    @property
    def n_q(self) -> int:
        return self.wdet.shape[1]


class Assembler:
    """Internal forces and tangent matrix of this rank's subdomain in global PETSc objects.

    Collective in construction and in :meth:`matrix_assemble` / :meth:`vector_assemble`.

    Parameters
    ----------
    mesh : distrom.mesh.Mesh
        The replicated mesh.
    cell_part : ndarray, shape (n_cells,)
        Rank of each global cell (``Partition.cell_part``).
    node_owner : ndarray, shape (n_nodes,)
        Owning rank of each node (``Partition.node_owner``).
    comm : mpi4py communicator
    quadrature_degree : dict of str -> int, optional
        Per element type, else each element's default rule.
    """

    def __init__(self, mesh: Any, cell_part: np.ndarray, node_owner: np.ndarray, comm: Any,
                 quadrature_degree: dict[str, int] | None = None) -> None:
        from petsc4py import PETSc

        from distrom.mesh.elements import get_element

        self.comm = comm
        self.rank, self.size = comm.rank, comm.size
        self.mesh = mesh
        cell_part = np.asarray(cell_part, dtype=np.int64)
        self.dofmap = DofMap(node_owner, self.size, self.rank)
        off = mesh.block_offsets()
        quadrature_degree = quadrature_degree or {}

        # ---- local cells, touched nodes, integration data --------------------------------
        local_conns = []
        sel = []
        for ib, b in enumerate(mesh.cells):
            mine = np.flatnonzero(cell_part[off[ib]:off[ib + 1]] == self.rank)
            sel.append(mine)
            local_conns.append(b.connectivity[mine].ravel())
        allc = np.concatenate(local_conns) if local_conns else np.zeros(0, np.int64)
        #: mesh nodes touched by this rank's cells (sorted)
        self.touched_nodes = np.unique(allc)
        tpos = np.full(mesh.n_nodes, -1, dtype=np.int64)
        tpos[self.touched_nodes] = np.arange(len(self.touched_nodes))
        self.touched_dofs = self.dofmap.dofs(self.touched_nodes).ravel().astype(PETSc.IntType)

        self.blocks: list[BlockGeometry] = []
        self.ips_per_cell: dict[str, int] = {}
        ip_global = []
        ipo_all = None
        n_ip = 0
        for ib, b in enumerate(mesh.cells):
            el = get_element(b.type)
            deg = quadrature_degree.get(b.type)
            xi, w = el.quadrature(deg) if deg is not None else el.quadrature()
            xi, w = np.asarray(xi, float), np.asarray(w, float)
            self.ips_per_cell[b.type] = len(w)
        ipo_all = mesh.ip_offsets(self.ips_per_cell)
        for ib, b in enumerate(mesh.cells):
            el = get_element(b.type)
            deg = quadrature_degree.get(b.type)
            xi, w = el.quadrature(deg) if deg is not None else el.quadrature()
            xi, w = np.asarray(xi, float), np.asarray(w, float)
            mine = sel[ib]
            if len(mine) == 0:
                continue
            conn = b.connectivity[mine]
            dN = np.asarray(el.shape_derivs(xi), float)
            try:
                grad, wdet = gradient_operators(mesh.nodes[conn], dN, w)
            except ValueError as e:
                from distrom.errors import InputError
                raise InputError(f"mesh block {ib} ({b.type}): {e}") from None
            nq = len(w)
            gcells = off[ib] + mine
            ip_global.append((ipo_all[gcells][:, None] + np.arange(nq)).ravel())
            self.blocks.append(BlockGeometry(b.type, ib, mine, conn, tpos[conn], grad, wdet,
                                             np.asarray(el.shape(xi), float),
                                             slice(n_ip, n_ip + len(mine) * nq)))
            n_ip += len(mine) * nq
        #: global integration-point rows of this rank's points, in local order
        self.ip_global = np.concatenate(ip_global) if ip_global else np.zeros(0, np.int64)
        self.n_ip_local = n_ip
        self.n_ip_global = int(ipo_all[-1])

        # ---- PETSc objects ------------------------------------------------------------------
        n_own, N = self.dofmap.n_owned_dofs, self.dofmap.n_dofs
        self._vec_sizes = (n_own, N)
        self._touched_vec = PETSc.Vec().createSeq(len(self.touched_dofs), comm=PETSc.COMM_SELF)
        tmp = self.create_vec()
        is_from = PETSc.IS().createGeneral(self.touched_dofs, comm=PETSc.COMM_SELF)
        self._scatter = PETSc.Scatter().create(tmp, is_from, self._touched_vec, None)
        tmp.destroy()
        self._build_structure()

    # ---- structure ---------------------------------------------------------------------------
    def _build_structure(self) -> None:
        """Exact CSR structure of the owned rows (from *all* cells touching owned nodes, since
        other ranks' cells add to interface rows), and the maps from element entries to it."""
        import scipy.sparse as sp

        mesh, dm = self.mesh, self.dofmap
        lo, hi = dm.node_range
        owned_mask = np.zeros(mesh.n_nodes, bool)
        owned_mask[dm.owned_nodes] = True
        # node-node adjacency of the owned nodes over every cell that touches one (replicated mesh)
        rows, cols = [], []
        for b in mesh.cells:
            c = b.connectivity
            touch = owned_mask[c].any(axis=1)
            c = dm.new_of_node[c[touch]]
            nn = c.shape[1]
            rows.append(np.repeat(c, nn, axis=1).ravel())
            cols.append(np.tile(c, (1, nn)).ravel())
        r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        keep = (r >= lo) & (r < hi)
        A = sp.csr_matrix((np.ones(int(keep.sum()), np.int8), (r[keep] - lo, c[keep])),
                          shape=(hi - lo, mesh.n_nodes))
        A.sum_duplicates()
        A.sort_indices()
        Ad = sp.kron(A, np.ones((3, 3), np.int8), format="csr")  # node-major dofs: 3p + i
        Ad.sort_indices()
        self._indptr = Ad.indptr.astype(np.int64)
        self._indices = Ad.indices.astype(np.int64)
        n_own_rows = Ad.shape[0]
        N = dm.n_dofs
        row_of_entry = np.repeat(np.arange(n_own_rows, dtype=np.int64), np.diff(self._indptr))
        csr_keys = row_of_entry * N + self._indices  # sorted: rows ascending, columns sorted
        self._nnz = len(self._indices)

        from petsc4py import PETSc
        J = PETSc.Mat().create(comm=self.comm)
        J.setSizes(((n_own_rows, N), (n_own_rows, N)))
        J.setType(PETSc.Mat.Type.AIJ)
        J.setBlockSize(3)
        J.setPreallocationCSR((self._indptr.astype(PETSc.IntType), self._indices.astype(PETSc.IntType),
                               np.zeros(self._nnz)))
        J.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        self.J = J

        # element entry -> owned CSR position, or off-process (row, col) entry; per chunk of
        # cells so the index arrays never hold all entries of a large block at once
        d0, d1 = dm.dof_range
        idx_t = np.int32 if max(self._nnz, 1) < 2**31 else np.int64
        self._chunks: list[list[tuple]] = []
        off_keys = []
        for bg in self.blocks:
            chunks = []
            for a in range(0, len(bg.cells), _CHUNK):
                e = min(a + _CHUNK, len(bg.cells))
                ed = dm.dofs(bg.conn[a:e]).reshape(e - a, -1)          # (nc, nd)
                nd = ed.shape[1]
                er = np.repeat(ed, nd, axis=1).ravel()
                ec = np.tile(ed, (1, nd)).ravel()
                own = (er >= d0) & (er < d1)
                keys = (er[own] - d0) * N + ec[own]
                pos = np.searchsorted(csr_keys, keys)
                assert np.all(csr_keys[pos] == keys), "element entry outside the preallocated structure"
                osel = np.flatnonzero(own).astype(idx_t)
                fsel = np.flatnonzero(~own).astype(idx_t)
                off_keys.append(er[~own] * N + ec[~own])
                chunks.append([a, e, osel, pos.astype(idx_t), fsel, None])
            self._chunks.append(chunks)
        keys = np.concatenate(off_keys) if off_keys else np.zeros(0, np.int64)
        ukeys, inv = np.unique(keys, return_inverse=True)
        start = 0
        for chunks in self._chunks:
            for ch in chunks:
                ch[5] = inv[start:start + len(ch[4])].astype(idx_t)
                start += len(ch[4])
        self._n_off = len(ukeys)
        urow, ucol = ukeys // N, ukeys % N
        # the rows of one node share their column set (full 3x3 node blocks): one dense block per node
        unode = urow // 3
        groups = []
        if len(ukeys):
            bounds = np.flatnonzero(np.diff(unode)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(ukeys)]])
            for s, e in zip(starts, ends):
                nrow = len(np.unique(urow[s:e]))
                ncols = (e - s) // nrow
                groups.append((s, e, urow[s:e:ncols].astype(PETSc.IntType),
                               ucol[s:s + ncols].astype(PETSc.IntType)))
        self._off_groups = groups
        self._indptr_p = self._indptr.astype(PETSc.IntType)
        self._indices_p = self._indices.astype(PETSc.IntType)

    # ---- vectors -----------------------------------------------------------------------------
    def create_vec(self) -> Any:
        """A global PETSc Vec with this numbering (block size 3). Collective."""
        from petsc4py import PETSc

        v = PETSc.Vec().create(comm=self.comm)
        v.setSizes(self._vec_sizes, bsize=3)
        v.setUp()
        return v

    def gather_touched(self, u: Any) -> np.ndarray:
        """Values of the global Vec ``u`` at the touched nodes, shape (n_touched, 3). Collective."""
        from petsc4py import PETSc

        self._scatter.scatter(u, self._touched_vec, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
        return self._touched_vec.getArray(readonly=True).reshape(-1, 3).copy()

    def cell_values(self, u_touched: np.ndarray, bg: BlockGeometry) -> np.ndarray:
        """Nodal values of the block's cells, shape (n_c, n_n, 3)."""
        return u_touched[bg.tconn]

    def local_strains(self, u_touched: np.ndarray) -> np.ndarray:
        """Voigt strains at all local integration points, shape (n_ip_local, 6)."""
        out = np.empty((self.n_ip_local, 6))
        for bg in self.blocks:
            for s in range(0, len(bg.cells), _CHUNK):
                e = min(s + _CHUNK, len(bg.cells))
                eps = strains(bg.grad[s:e], u_touched[bg.tconn[s:e]])
                out[bg.ip_slice][s * bg.n_q:e * bg.n_q] = eps.reshape(-1, 6)
        return out

    def vector_assemble(self, cell_forces: list[np.ndarray], vec: Any, extra: np.ndarray | None = None
                        ) -> None:
        """Sum per-cell nodal vectors into ``vec`` (zeroed first). Collective.

        Parameters
        ----------
        cell_forces : list of ndarray (n_c, n_n, 3), one per local block
        extra : ndarray (n_touched, 3), optional
            Values already summed at the touched nodes, added as well.
        """
        from petsc4py import PETSc

        acc = np.zeros((len(self.touched_nodes), 3)) if extra is None else np.array(extra, float)
        for bg, f in zip(self.blocks, cell_forces):
            for i in range(3):
                acc[:, i] += np.bincount(bg.tconn.ravel(), weights=f[..., i].ravel(),
                                         minlength=len(self.touched_nodes))
        vec.zeroEntries()
        vec.setValues(self.touched_dofs, acc.ravel(), addv=PETSc.InsertMode.ADD_VALUES)
        vec.assemblyBegin()
        vec.assemblyEnd()

    def internal_force(self, sigma: np.ndarray) -> list[np.ndarray]:
        """Per-block cell internal forces from local ip stresses (n_ip_local, 6)."""
        out = []
        for bg in self.blocks:
            s = sigma[bg.ip_slice].reshape(len(bg.cells), bg.n_q, 6)
            f = np.empty((len(bg.cells), bg.conn.shape[1], 3))
            for a in range(0, len(bg.cells), _CHUNK):
                e = min(a + _CHUNK, len(bg.cells))
                f[a:e] = internal_forces(bg.grad[a:e], bg.wdet[a:e], s[a:e])
            out.append(f)
        return out

    def matrix_assemble(self, tangent: np.ndarray) -> Any:
        """Assemble ``sum_e B^T D B`` from local ip tangents (n_ip_local, 6, 6) into :attr:`J`.

        Collective. Returns the matrix (the same object every call: fixed structure).
        """
        from petsc4py import PETSc

        data = np.zeros(self._nnz)
        offd = np.zeros(self._n_off)
        for bg, chunks in zip(self.blocks, self._chunks):
            D = tangent[bg.ip_slice].reshape(len(bg.cells), bg.n_q, 6, 6)
            for a, e, osel, pos, fsel, finv in chunks:
                K = stiffness_matrices(bg.grad[a:e], bg.wdet[a:e], D[a:e]).ravel()
                data += np.bincount(pos, weights=K[osel], minlength=self._nnz)
                if len(fsel):
                    offd += np.bincount(finv, weights=K[fsel], minlength=self._n_off)
        J = self.J
        J.zeroEntries()
        J.setValuesCSR(self._indptr_p, self._indices_p, data,
                       addv=PETSc.InsertMode.ADD_VALUES)
        for s, e, rws, cls in self._off_groups:
            J.setValues(rws, cls, offd[s:e], addv=PETSc.InsertMode.ADD_VALUES)
        J.assemblyBegin()
        J.assemblyEnd()
        return J

    # ---- helpers ---------------------------------------------------------------------------
    def owned_node_values(self, vec: Any) -> np.ndarray:
        """This rank's rows of a global Vec as (n_owned_nodes, 3), in :attr:`DofMap.owned_nodes` order."""
        return vec.getArray(readonly=True).reshape(-1, 3).copy()

    def coordinates_vec(self) -> Any:
        """Owned node coordinates as a Vec with block size 3 (rigid-body near-nullspace)."""
        v = self.create_vec()
        v.setArray(self.mesh.nodes[self.dofmap.owned_nodes].ravel())
        return v

    def ip_field(self, nodal_touched: np.ndarray) -> np.ndarray:
        """Interpolate a nodal scalar field given at the touched nodes to the local ips, (n_ip_local,)."""
        out = np.empty(self.n_ip_local)
        for bg in self.blocks:
            out[bg.ip_slice] = np.einsum("qn,cn->cq", bg.shape, nodal_touched[bg.tconn]).ravel()
        return out

    def ip_coordinates(self) -> np.ndarray:
        """Physical coordinates of the local integration points, (n_ip_local, 3)."""
        out = np.empty((self.n_ip_local, 3))
        for bg in self.blocks:
            out[bg.ip_slice] = np.einsum("qn,cni->cqi", bg.shape, self.mesh.nodes[bg.conn]).reshape(-1, 3)
        return out
