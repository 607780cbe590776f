# SPDX-License-Identifier: BSD-3-Clause
"""The benchmark helpers other benchmarks reuse (no timing is asserted)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import _gaussian_rows, interleaved, make_snapshots, md_table, update_doc_section  # noqa: E402


def test_make_snapshots_has_the_known_spectrum_for_any_row_split():
    S, s = make_snapshots(70_000, 12, decay=4, seed=3)  # two generator chunks
    assert S.flags.f_contiguous
    np.testing.assert_allclose(np.linalg.svd(S, compute_uv=False), s, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s, 10.0 ** (-np.arange(12) / 4))
    # The random rows a rank draws do not depend on how the rows are split (chunked seeds).
    whole = _gaussian_rows(0, 70_000, 12, 3)
    np.testing.assert_array_equal(_gaussian_rows(60_000, 70_000, 12, 3), whole[60_000:])
    np.testing.assert_array_equal(_gaussian_rows(5, 66_000, 12, 3), whole[5:66_000])
    S2, _ = make_snapshots(70_000, 12, decay=4, seed=4)
    assert not np.allclose(S, S2)


def test_update_doc_section_keeps_other_sections(tmp_path):
    doc = tmp_path / "performance.md"
    update_doc_section("pod", "## POD\nfirst", doc)
    assert doc.read_text().startswith("# Performance")
    update_doc_section("ecm", "## ECM\nkept", doc)
    update_doc_section("pod", "## POD\nsecond", doc)
    text = doc.read_text()
    assert "second" in text and "first" not in text and "kept" in text
    assert text.count("<!-- bench:pod -->") == 1 and text.index("bench:pod") < text.index("bench:ecm")


def test_interleaved_runs_each_function_in_turn():
    order = []
    times, load = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                              repeats=3, warmup=1)
    assert order == ["a", "b"] * 4 and len(times["a"]) == 3 and "other_cpu_fraction" in load
    assert md_table(["x", "y"], [[1, 0.123456]]).splitlines()[2] == "| 1 | 0.123 |"


@pytest.mark.mpi
def test_make_snapshots_distributed_equals_serial(comm):
    from distrom.parallel import Layout

    N, m = 70_000, 8
    lo, hi = Layout.balanced(N, comm).range
    part, s = make_snapshots(N, m, decay=3, rows=(lo, hi), comm=comm)
    whole, _ = make_snapshots(N, m, decay=3)
    np.testing.assert_allclose(part, whole[lo:hi], atol=1e-13 * np.abs(whole).max())
