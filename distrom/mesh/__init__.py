"""Mesh data, element library, box generator, partitioning and subdomain extraction."""
from distrom.mesh.elements import ELEMENTS, ElementType, cell_volumes, get_element, jacobians, surface_jacobians
from distrom.mesh.mesh import CellBlock, Mesh

__all__ = ["CellBlock", "ELEMENTS", "ElementType", "Mesh", "cell_volumes", "get_element", "jacobians",
           "surface_jacobians"]
