"""Constitutive laws vectorized over integration points (NumPy only: no MPI, no PETSc).

The serial online stage reuses this package, so it must never import mpi4py, petsc4py or
slepc4py, not even indirectly (a test checks it in a subprocess).

Voigt order ``11 22 33 12 23 31``; strains with engineering shears, stresses plain.
See docs/materials.md for the laws, the integration schemes and the UMAT conventions.
"""
from distrom.mechanics.materials._base import (
    VOIGT,
    Coefficient,
    Material,
    strain_tensor_components,
)
from distrom.mechanics.materials._factory import LAWS, make_material
from distrom.mechanics.materials.chaboche import Chaboche
from distrom.mechanics.materials.elastic import LinearElastic
from distrom.mechanics.materials.norton import Norton
from distrom.mechanics.materials.umat import UmatMaterial

__all__ = ["LAWS", "VOIGT", "Chaboche", "Coefficient", "LinearElastic", "Material", "Norton",
           "UmatMaterial", "make_material", "strain_tensor_components"]
