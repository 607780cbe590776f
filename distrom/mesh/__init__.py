"""Mesh data, element library, box generator, partitioning and subdomain extraction."""
from distrom.mesh.mesh import CellBlock, Mesh

__all__ = ["CellBlock", "Mesh"]
