# SPDX-License-Identifier: BSD-3-Clause
"""distrom's benchmark harness: ``python -m benchmarks NAME [options]``.

Each benchmark is a module ``benchmarks/NAME.py`` with ``main(argv) -> int``; shared helpers
(peak rates, test matrices, interleaved timing, JSON results, the marked sections of
``docs/performance.md``) live in :mod:`benchmarks.common`. Benchmarks never run in the tests.
"""
