"""Small-strain structural mechanics: constitutive laws, loads, assembly, the HF solver.

Importing this package imports nothing heavy. ``distrom.mechanics.materials`` is NumPy-only (the
serial online stage reuses it); the solver modules beside it import PETSc themselves.
"""
