# SPDX-License-Identifier: BSD-3-Clause
"""Reduced-order models: offline construction, the model file, the serial online stage.

``distrom.rom.model`` and ``distrom.rom.online`` import only numpy, h5py, scipy and
``distrom.mechanics.materials`` (never MPI or PETSc); ``distrom.rom.offline`` runs under
``mpirun``. Importing this package imports none of them.
"""
