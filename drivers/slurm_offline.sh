#!/bin/bash
# Slurm job template: the distributed offline stage (POD + ECM) of distrom on N ranks.
# Submit:  sbatch --ntasks=64 drivers/slurm_offline.sh offline.toml model.h5
# offline.toml names the case ([offline] case = "...") and the HF problem ([offline] problem).
#SBATCH --job-name=distrom-offline
#SBATCH --ntasks=16
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=distrom-offline-%j.out
set -euo pipefail
CONFIG=${1:?usage: sbatch drivers/slurm_offline.sh OFFLINE.toml MODEL.h5}
MODEL=${2:?usage: sbatch drivers/slurm_offline.sh OFFLINE.toml MODEL.h5}
PY=${PY:-.venv/bin/python}
# one BLAS thread per rank: the offline stage is MPI-parallel, threads would oversubscribe
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# the case is read with independent HDF5 reads (any rank count); put it on a parallel file system
srun --mpi=pmix "$PY" -m mpi4py -m distrom offline "$CONFIG" -o "$MODEL" --force
"$PY" -m distrom info "$MODEL"
