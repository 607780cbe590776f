#!/usr/bin/env bash
# Idempotent set-up of the Debian route: apt packages of the MPI stack (only those missing),
# a venv at .venv from /usr/bin/python3 that sees Debian's packages, distrom installed editable.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="python3-venv python3-pip python3-petsc4py python3-slepc4py python3-mpi4py python3-h5py-mpi \
python3-scipy python3-pytest python3-matplotlib openmpi-bin"
[ "${DISTROM_WITH_CALCULIX:-0}" = 1 ] && PKGS="$PKGS calculix-ccx"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The venv must come from Debian's interpreter: the python3 first on PATH may be another one.
[ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
SITE=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Debian's petsc4py/slepc4py import only with PETSC_DIR/SLEPC_DIR set; a path file avoids that.
ls -d /usr/lib/petscdir/petsc*/*-real/lib/python3/dist-packages \
      /usr/lib/slepcdir/slepc*/*-real/lib/python3/dist-packages > "$SITE/debian-petsc-slepc.pth"

stamp=.venv/.distrom-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # Pin what pip must never replace: numpy 2 breaks petsc4py/h5py/scipy at import, and a PyPI
  # h5py would shadow Debian's parallel build.
  .venv/bin/python - > .venv/debian-constraints.txt <<'PY'
import numpy, scipy, mpi4py, petsc4py, slepc4py
for m in (numpy, scipy, mpi4py, petsc4py, slepc4py):
    print(f"{m.__name__}=={m.__version__}")
print("h5py<0")
PY
  .venv/bin/python -m pip install -q --disable-pip-version-check \
      -c .venv/debian-constraints.txt -e '.[dev]'
  touch "$stamp"
fi
.venv/bin/python -c 'import mpi4py, petsc4py.PETSc, slepc4py.SLEPc, h5py, numpy, scipy, pytest_mpi, pytest_timeout, distrom'
