#!/bin/bash
# Train with your script on all V100s of one Puhti node with torchrun (DistributedDataParallel); checkpointed and
# requeued like train_gpu.sh. fit notices torchrun by itself (one process per GPU, metrics over all processes,
# log lines and checkpoints from process 0), so the script is the same as for one GPU.
#   sbatch slurm/train_ddp.sh slurm/train_fashion.py [args...]                   # from the checkout's root
#SBATCH --job-name=mlcourse-ddp
#SBATCH --partition=gpu
#SBATCH --nodes=1
#SBATCH --ntasks=1                       # one torchrun, which starts one process per GPU
#SBATCH --gres=gpu:v100:4,nvme:10
#SBATCH --cpus-per-task=40               # 10 per GPU
#SBATCH --mem=320G
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%x-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@180

set -uo pipefail
MLCOURSE_ROOT=${MLCOURSE_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
[ -f "$MLCOURSE_ROOT/slurm/requeue.sh" ] || { echo "== error: $MLCOURSE_ROOT is not the mlcourse checkout: cd to it, then sbatch slurm/train_ddp.sh" >&2; exit 1; }
[ $# -ge 1 ] || { echo "== usage: sbatch slurm/train_ddp.sh my_train.py [args...]" >&2; exit 2; }
# shellcheck source=slurm/setup_env.sh
source "$MLCOURSE_ROOT/slurm/setup_env.sh"
# shellcheck source=slurm/requeue.sh
source "$MLCOURSE_ROOT/slurm/requeue.sh"

NPROC=${SLURM_GPUS_ON_NODE:-4}           # processes: one per GPU of this job
CPUS=${SLURM_CPUS_PER_TASK:-$NPROC}
export OMP_NUM_THREADS=$(( CPUS >= NPROC ? CPUS / NPROC : 1 ))
echo "== torchrun: $NPROC processes, $OMP_NUM_THREADS CPU threads each"
# `python -m torch.distributed.run` is torchrun run by the venv's python, so that the workers import mlcourse.
run_requeueable --workers python -m torch.distributed.run --standalone --nnodes=1 --nproc_per_node="$NPROC" "$@"
