"""Partitioning (PETSc MatPartitioning on the dual graph) and subdomain extraction."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import clean_subprocess_env

from distrom.errors import InputError
from distrom.mesh import (CellBlock, Mesh, box_mesh, extract_subdomain, get_element, jacobians,
                          partition_from_cells, partition_mesh)


def expected_method():
    from petsc4py import PETSc

    return "parmetis" if PETSc.Sys.hasExternalPackage("parmetis") else "ptscotch"


def reference_owner_interface(mesh, cell_part):
    """Brute-force: parts touching each node, by a Python loop (small meshes only)."""
    touching = [set() for _ in range(mesh.n_nodes)]
    rows = [r for b in mesh.cells for r in b.connectivity]
    for c, row in enumerate(rows):
        for v in row:
            touching[v].add(int(cell_part[c]))
    owner = np.array([min(t) if t else 0 for t in touching])
    interface = np.array([v for v, t in enumerate(touching) if len(t) > 1], dtype=np.int64)
    return owner, interface


@pytest.mark.mpi
def test_20cube_three_parts_balanced_and_rank_count_independent(comm):
    from mpi4py import MPI

    mesh = box_mesh(20, 20, 20, element="hex8")
    p = partition_mesh(mesh, 3, comm=comm)
    assert p.method == expected_method()
    sizes = p.part_sizes
    assert sizes.sum() == 8000 and np.all(np.abs(sizes - 8000 / 3) <= 0.05 * 8000 / 3), sizes
    # identical on every rank
    gathered = comm.allgather(p.cell_part)
    assert all(np.array_equal(g, p.cell_part) for g in gathered)
    # and identical to a one-process run made after other partitioner calls: the answer depends
    # neither on how many ranks call it nor on what the process partitioned before
    partition_mesh(box_mesh(3, 2, 2, element="tet4"), 5, comm=MPI.COMM_SELF)
    serial = partition_mesh(mesh, 3, comm=MPI.COMM_SELF)
    np.testing.assert_array_equal(serial.cell_part, p.cell_part)
    # a graph partitioner keeps the cut small: about that of 3 slabs (2 planes of 21 x 21 nodes),
    # where a scattered assignment would put most nodes on an interface
    assert len(p.interface_nodes) < 2 * 21 * 21 * 1.5
    if comm.rank == 0:
        print(f"\n20^3 hex8 into 3 parts: {p.summary()}")


@pytest.mark.mpi
@pytest.mark.parametrize("element, n_parts", [("tet4", 4), ("hex20", 2), ("tet10", 3)])
def test_owner_and_interface_match_brute_force(comm, element, n_parts):
    mesh = box_mesh(3, 3, 2, element=element)
    p = partition_mesh(mesh, n_parts, comm=comm)
    assert np.all(p.part_sizes > 0)
    owner, interface = reference_owner_interface(mesh, p.cell_part)
    np.testing.assert_array_equal(p.node_owner, owner)
    np.testing.assert_array_equal(p.interface_nodes, interface)
    new, offsets = p.node_numbering()
    assert sorted(new.tolist()) == list(range(mesh.n_nodes))
    for q in range(n_parts):  # each part's owned nodes get a contiguous range, in global order
        mine = np.flatnonzero(p.node_owner == q)
        np.testing.assert_array_equal(new[mine], np.arange(offsets[q], offsets[q + 1]))


@pytest.mark.mpi
def test_every_rank_extracts_its_subdomain(comm):
    """One subdomain per rank: owned nodes cover the mesh once, volumes add up, numbers kept."""
    mesh = box_mesh(4, 3, 3, lengths=(2.0, 1.0, 1.5), element="hex8")
    mesh.node_ids = 1000 + 3 * np.arange(mesh.n_nodes)        # source numbers must survive
    mesh.cells[0].ids = 500 + np.arange(mesh.n_cells)[::-1]
    p = partition_mesh(mesh, comm.size, comm=comm)
    sub = extract_subdomain(mesh, p, comm.rank)
    b = sub.mesh.cells[0]
    _, detJ, _ = jacobians("hex8", sub.mesh.nodes[b.connectivity])
    vol = comm.allreduce(float((detJ @ get_element("hex8").quadrature()[1]).sum()))
    assert vol == pytest.approx(3.0, rel=1e-12)
    owned = np.zeros(mesh.n_nodes, dtype=np.int64)
    owned[sub.global_node[sub.owned_nodes]] = 1
    np.testing.assert_array_equal(comm.allreduce(owned), np.ones(mesh.n_nodes))
    cells = np.zeros(mesh.n_cells, dtype=np.int64)
    cells[sub.global_cell] = 1
    np.testing.assert_array_equal(comm.allreduce(cells), np.ones(mesh.n_cells))
    np.testing.assert_array_equal(sub.mesh.node_ids, mesh.node_ids[sub.global_node])
    np.testing.assert_array_equal(b.ids, mesh.cells[0].ids[sub.global_cell])
    np.testing.assert_array_equal(sub.global_node[b.connectivity], mesh.cells[0].connectivity[sub.global_cell])
    np.testing.assert_array_equal(sub.interface, np.isin(sub.global_node, p.interface_nodes))
    if comm.size == 1:
        assert not sub.interface.any() and sub.owned_nodes.all()


def test_subdomain_sets_are_restricted_and_renumbered():
    mesh = box_mesh(4, 2, 2, element="tet4")
    p = partition_from_cells(mesh, (np.arange(mesh.n_cells) // 16) % 3, 3)
    for part in range(3):
        sub = extract_subdomain(mesh, p, part)
        for name, nodes in mesh.node_sets.items():
            here = np.intersect1d(nodes, sub.global_node)
            np.testing.assert_array_equal(sub.global_node[sub.mesh.node_sets[name]], here)
        for name, faces in mesh.face_sets.items():
            keep = np.isin(faces[:, 0], sub.global_cell)
            loc = sub.mesh.face_sets[name]
            np.testing.assert_array_equal(sub.global_cell[loc[:, 0]], faces[keep, 0])
            np.testing.assert_array_equal(loc[:, 1], faces[keep, 1])
        np.testing.assert_array_equal(sub.global_cell[sub.mesh.cell_sets["all"]], sub.global_cell)
        assert np.array_equal(sub.to_local_nodes(sub.global_node), np.arange(sub.n_local_nodes))
        outside = np.setdiff1d(np.arange(mesh.n_nodes), sub.global_node)
        assert np.all(sub.to_local_nodes(outside) == -1)
    # interface nodes of the given partition: those used by cells of two parts
    owner, interface = reference_owner_interface(mesh, p.cell_part)
    np.testing.assert_array_equal(p.interface_nodes, interface)
    np.testing.assert_array_equal(p.node_owner, owner)


def test_mixed_blocks_subdomain_keeps_block_order():
    a = box_mesh(2, 1, 1)
    nodes = a.nodes
    conn = a.cells[0].connectivity
    tets = box_mesh(1, 1, 1, element="tet4").cells[0].connectivity   # on nodes of the unit cube
    # map the unit-cube tets onto hex 1's corners
    cube = box_mesh(1, 1, 1).cells[0].connectivity[0]
    lookup = np.empty(8, dtype=np.int64)
    lookup[cube] = conn[1]
    mesh = Mesh(nodes, [CellBlock("hex8", conn[:1], [7]), CellBlock("tet4", lookup[tets], np.arange(20, 26))])
    p = partition_from_cells(mesh, [1, 0, 0, 1, 1, 1, 0], 2)
    sub = extract_subdomain(mesh, p, 1)
    assert sub.mesh.cell_types == ["hex8", "tet4"]
    np.testing.assert_array_equal(sub.global_cell, [0, 3, 4, 5])
    np.testing.assert_array_equal(sub.mesh.cell_ids, [7, 22, 23, 24])
    sub0 = extract_subdomain(mesh, p, 0)
    assert sub0.mesh.cell_types == ["tet4"]   # the hex block has no cell in part 0


@pytest.mark.mpi
def test_single_part_and_block_method(comm):
    mesh = box_mesh(5, 2, 1)
    p1 = partition_mesh(mesh, 1, comm=comm)
    assert p1.method == "single" and np.all(p1.cell_part == 0) and len(p1.interface_nodes) == 0
    pb = partition_mesh(mesh, 3, comm=comm, method="block")
    assert pb.method == "block"
    np.testing.assert_array_equal(pb.part_sizes, [3, 3, 4])
    np.testing.assert_array_equal(pb.cell_part, np.sort(pb.cell_part))


@pytest.mark.mpi
@pytest.mark.parametrize("kwargs, match", [
    ({"n_parts": 0}, "n_parts must be an integer in 1..8"),
    ({"n_parts": 9}, "n_parts must be an integer in 1..8"),
    ({"n_parts": 2, "method": "metis"}, "unknown partitioning method 'metis'"),
])
def test_bad_arguments_raise_on_every_rank(comm, kwargs, match):
    mesh = box_mesh(2, 2, 2)
    with pytest.raises(InputError, match=match):
        partition_mesh(mesh, comm=comm, **kwargs)


@pytest.mark.mpi
def test_unavailable_partitioner_is_named(comm):
    if expected_method() == "parmetis":
        pytest.skip("this PETSc build has ParMETIS")
    with pytest.raises(InputError, match="'parmetis' is not in this PETSc build.*ptscotch"):
        partition_mesh(box_mesh(2, 2, 2), 2, comm=comm, method="parmetis")


@pytest.mark.mpi(min_size=2)
def test_different_meshes_on_ranks_raise_everywhere(comm):
    mesh = box_mesh(2, 2, 1 + (comm.rank == 1))
    with pytest.raises(InputError, match="same mesh on every rank"):
        partition_mesh(mesh, 2, comm=comm)


@pytest.mark.mpi
def test_non_manifold_error_reaches_every_rank(comm):
    m = box_mesh(1, 1, 1)
    bad = Mesh(m.nodes, [CellBlock("hex8", np.vstack([m.cells[0].connectivity] * 3))])
    with pytest.raises(InputError, match="shared by more than two cells"):
        partition_mesh(bad, 2, comm=comm)


def test_scotch_environment_restored(monkeypatch):
    import os

    monkeypatch.setenv("SCOTCH_PTHREAD_NUMBER", "4")
    from mpi4py import MPI

    a = partition_mesh(box_mesh(4, 4, 4), 3, comm=MPI.COMM_SELF, method="ptscotch")
    assert os.environ["SCOTCH_PTHREAD_NUMBER"] == "4"
    monkeypatch.delenv("SCOTCH_PTHREAD_NUMBER")
    b = partition_mesh(box_mesh(4, 4, 4), 3, comm=MPI.COMM_SELF, method="ptscotch")
    assert "SCOTCH_PTHREAD_NUMBER" not in os.environ
    np.testing.assert_array_equal(a.cell_part, b.cell_part)
    assert a.method == "ptscotch" and a.imbalance < 0.05


def test_extract_subdomain_bad_part():
    mesh = box_mesh(2, 1, 1)
    p = partition_from_cells(mesh, [0, 1])
    with pytest.raises(InputError, match=r"part must be an integer in 0..1, got 2"):
        extract_subdomain(mesh, p, 2)
    with pytest.raises(InputError, match="does not belong to this mesh"):
        extract_subdomain(box_mesh(3, 1, 1), p, 0)
    with pytest.raises(InputError, match="cell_part has 3 entries for a mesh of 2 cells"):
        partition_from_cells(mesh, [0, 1, 1])


def test_import_mesh_without_mpi():
    code = ("import sys; import distrom.mesh as m; m.box_mesh(2, 2, 2, element='tet10'); "
            "assert 'mpi4py' not in sys.modules and 'petsc4py' not in sys.modules, sorted(sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], env=clean_subprocess_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
