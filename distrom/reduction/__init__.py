"""Reduction algorithms (POD, EIM family, ECM, Gappy-POD): NumPy arrays or distributed Snapshots."""
