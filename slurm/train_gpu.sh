#!/bin/bash
# One GPU on CSC's Puhti, checkpointed before the time limit and requeued until training is done.
#   sbatch slurm/train_gpu.sh my_train.py [args...]      (my_train.py calls fit(..., checkpoint_dir=..., resume=True))
#SBATCH --job-name=mlcourse
#SBATCH --account=project_XXXXXXX        # your CSC project
#SBATCH --partition=gpu                  # gputest for a 15-minute trial
#SBATCH --gres=gpu:v100:1
#SBATCH --cpus-per-task=10
#SBATCH --mem=64G
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%x-%j.out
#SBATCH --open-mode=append               # a requeued job appends to the same log
#SBATCH --requeue
#SBATCH --signal=B:USR1@120              # 120 s before the limit, Slurm sends SIGUSR1 to this script (B: the batch shell)

set -u
SCRIPT=${1:-train.py}; shift || true
MAX_RESTARTS=${MAX_RESTARTS:-10}
module load pytorch
export MLCOURSE_DATA=${MLCOURSE_DATA:-/scratch/${SLURM_JOB_ACCOUNT:-project}/${USER:-$(id -un)}/mlcourse-data}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
echo "== job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, on $(hostname), $(date)"

python -u "$SCRIPT" "$@" &               # in the background, so that this shell can catch the signal
pid=$!
asked=0
trap 'asked=1; echo "== time limit near: asking training to checkpoint"; kill -USR1 $pid' USR1
trap 'asked=1; kill -TERM $pid' TERM
wait $pid; rc=$?
while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done   # 'wait' returns early when a trap runs: wait again

# fit exits with status 124 (mlcourse.train.REQUEUE_STATUS) after writing its checkpoint on SIGUSR1/SIGTERM.
if [ $rc -eq 124 ] || { [ $asked -eq 1 ] && [ $rc -ne 0 ]; }; then
  if [ "${SLURM_RESTART_COUNT:-0}" -lt "$MAX_RESTARTS" ]; then
    echo "== checkpointed; requeueing job $SLURM_JOB_ID"; scontrol requeue "$SLURM_JOB_ID"; exit 0
  fi
  echo "== not requeued: $MAX_RESTARTS restarts already"
fi
echo "== training ended with status $rc"
exit $rc
