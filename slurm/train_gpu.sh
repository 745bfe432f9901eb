#!/bin/bash
# Train with your script on one V100 of CSC's Puhti; checkpointed before the time limit and requeued until done.
#   export SBATCH_ACCOUNT=project_<number> MLCOURSE_PROJECT=project_<number>     # once, e.g. in ~/.bashrc
#   sbatch slurm/train_gpu.sh slurm/train_fashion.py [args...]                   # from the checkout's root
# The script calls fit(..., checkpoint_dir=os.environ["MLCOURSE_CHECKPOINT_DIR"], resume=True); see README.md.
#SBATCH --job-name=mlcourse
#SBATCH --partition=gpu                  # gputest for a 15-minute trial
#SBATCH --gres=gpu:v100:1,nvme:10        # one V100, and 10 GB of the node's NVMe disk ($LOCAL_SCRATCH) for the data
#SBATCH --cpus-per-task=10
#SBATCH --mem=64G
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%x-%j.out
#SBATCH --open-mode=append               # a requeued job appends to the same log
#SBATCH --requeue
#SBATCH --signal=B:USR1@120              # 120 s before the limit, SIGUSR1 to this shell (B:), which passes it on

set -uo pipefail
# Slurm runs a copy of this file from its spool folder: the checkout is where sbatch was called.
MLCOURSE_ROOT=${MLCOURSE_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
[ -f "$MLCOURSE_ROOT/slurm/requeue.sh" ] || { echo "== error: $MLCOURSE_ROOT is not the mlcourse checkout: cd to it, then sbatch slurm/train_gpu.sh" >&2; exit 1; }
[ $# -ge 1 ] || { echo "== usage: sbatch slurm/train_gpu.sh my_train.py [args...]" >&2; exit 2; }
# shellcheck source=slurm/setup_env.sh
source "$MLCOURSE_ROOT/slurm/setup_env.sh"
# shellcheck source=slurm/requeue.sh
source "$MLCOURSE_ROOT/slurm/requeue.sh"

export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
run_requeueable python -u "$@"
