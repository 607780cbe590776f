"""Mesh data, element library, box generator, partitioning and subdomain extraction.

Importing this package imports neither mpi4py nor petsc4py (the online stage may use the element
library); :func:`partition_mesh` imports them when called.
"""
from distrom.mesh.box import box_mesh
from distrom.mesh.elements import ELEMENTS, ElementType, cell_volumes, get_element, jacobians, surface_jacobians
from distrom.mesh.mesh import CellBlock, Mesh
from distrom.mesh.partition import Partition, partition_from_cells, partition_mesh
from distrom.mesh.subdomain import Subdomain, extract_subdomain
from distrom.mesh.topology import boundary_faces, cell_faces, dual_graph, to_quadratic

__all__ = ["CellBlock", "ELEMENTS", "ElementType", "Mesh", "Partition", "Subdomain", "box_mesh",
           "boundary_faces", "cell_faces", "cell_volumes", "dual_graph", "extract_subdomain",
           "get_element", "jacobians", "partition_from_cells", "partition_mesh", "surface_jacobians",
           "to_quadratic"]
