#!/bin/bash
# Several GPUs of one Puhti node with torchrun (DistributedDataParallel, NCCL), checkpointed and requeued.
#   sbatch slurm/train_ddp.sh my_train.py [args...]
# fit notices torchrun by itself: one process per GPU, a DistributedSampler for DataLoaders, metrics over all
# processes, log lines and checkpoints from process 0 only. Nothing in my_train.py changes.
#SBATCH --job-name=mlcourse-ddp
#SBATCH --account=project_XXXXXXX
#SBATCH --partition=gpu
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gres=gpu:v100:4
#SBATCH --cpus-per-task=40               # 10 per GPU
#SBATCH --mem=320G
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%x-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@180

set -u
SCRIPT=${1:-train.py}; shift || true
MAX_RESTARTS=${MAX_RESTARTS:-10}
NGPU=${SLURM_GPUS_ON_NODE:-4}
module load pytorch
export MLCOURSE_DATA=${MLCOURSE_DATA:-/scratch/${SLURM_JOB_ACCOUNT:-project}/${USER:-$(id -un)}/mlcourse-data}
export OMP_NUM_THREADS=$(( ${SLURM_CPUS_PER_TASK:-$NGPU} / NGPU ))
echo "== job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, $NGPU GPUs on $(hostname), $(date)"

torchrun --standalone --nproc_per_node="$NGPU" "$SCRIPT" "$@" &
pid=$!
asked=0
# torchrun does not pass SIGUSR1 on, so send it to its worker processes (its children) directly.
trap 'asked=1; echo "== time limit near: asking every process to checkpoint"; pkill -USR1 -P $pid' USR1
trap 'asked=1; pkill -TERM -P $pid' TERM
wait $pid; rc=$?
while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done

# Each worker exits with 124 after process 0 wrote the checkpoint; torchrun then reports a failure (status 1),
# so requeue whenever we asked for the checkpoint and training did not finish.
if [ $rc -eq 124 ] || { [ $asked -eq 1 ] && [ $rc -ne 0 ]; }; then
  if [ "${SLURM_RESTART_COUNT:-0}" -lt "$MAX_RESTARTS" ]; then
    echo "== checkpointed; requeueing job $SLURM_JOB_ID"; scontrol requeue "$SLURM_JOB_ID"; exit 0
  fi
  echo "== not requeued: $MAX_RESTARTS restarts already"
fi
echo "== training ended with status $rc"
exit $rc
