#!/usr/bin/env bash
# make demo: the quickstart study on 2 ranks (HF -> offline -> online -> HF validation -> report).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
# Default: the holed plate (12,375 dofs, Norton creep, tension + thermal gradient, about 2 min).
# STUDY=examples/quickstart/study.toml make demo runs the small clamped block (2,205 dofs, < 1 min).
STUDY=${STUDY:-examples/quickstart/holed_plate_study.toml}
OUT=${OUT:-demo-output/$(basename "$STUDY" .toml)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
start=$(date +%s)
"$PY" -m distrom run "$STUDY" -o "$OUT" --ranks 2
echo "quickstart done in $(( $(date +%s) - start )) s"
echo "report: $OUT/report/summary.md (plots: $OUT/report/*.png)"
