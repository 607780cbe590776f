#!/usr/bin/env bash
# The whole suite: serially (MPI-marked tests at P = 1), then the MPI-marked tests under
# mpirun -n 2 and -n 3 (oversubscribed where there are fewer cores). A stage that collects no
# test (pytest exit 5) or passes none (everything skipped) fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# One BLAS thread per rank: oversubscribed ranks with threaded BLAS crawl.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONUNBUFFERED=1
PY=.venv/bin/python
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
stage() {
  echo "=== $*"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 5 ]; then echo "error: no tests collected: $*" >&2; fi
  if [ "$rc" -eq 0 ] && ! grep -aqE "[0-9]+ passed" "$log"; then
    echo "error: no test passed (all skipped?): $*" >&2; rc=5
  fi
  [ "$rc" -eq 0 ] || status=$rc
}
stage $PY -m pytest --with-mpi -q "$@" tests
for n in 2 3; do
  # python -m mpi4py aborts the job when one rank exits with an error; --timeout is the last net.
  stage mpirun --timeout 900 -n $n $PY -m mpi4py -m pytest --only-mpi -q "$@" tests
done
[ $status -eq 0 ] && echo "=== all stages passed (P = 1, 2, 3)"
exit $status
