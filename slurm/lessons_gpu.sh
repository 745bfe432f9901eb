#!/bin/bash
# Run chosen lessons in full mode on one V100 of CSC's Puhti: tools/run_course.py --full, each notebook in a fresh
# process; the executed notebooks and summary.md go to /scratch/<project>/$USER/mlcourse-lessons/<job id>/.
# Lesson 14 keeps each finished training run in $MLCOURSE_RESUME (default .../mlcourse-lessons/kept-runs/): a job
# that hit its time limit, submitted again, trains only what the last one did not finish.
#   sbatch slurm/lessons_gpu.sh 04 05       # lessons whose file names start with 04 or 05 (none given: all)
#SBATCH --job-name=mlcourse-lessons
#SBATCH --partition=gpu                  # gputest for a 15-minute trial
#SBATCH --gres=gpu:v100:1,nvme:20        # one V100, 20 GB of NVMe for the data and the datasets lessons build
#SBATCH --cpus-per-task=10
#SBATCH --mem=64G
#SBATCH --time=04:00:00                  # a lesson is not checkpointed (lesson 14 keeps finished runs): give it time
#SBATCH --output=slurm-%x-%j.out

set -uo pipefail
MLCOURSE_ROOT=${MLCOURSE_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
[ -f "$MLCOURSE_ROOT/slurm/setup_env.sh" ] || { echo "== error: $MLCOURSE_ROOT is not the mlcourse checkout: cd to it, then sbatch slurm/lessons_gpu.sh" >&2; exit 1; }
# shellcheck source=slurm/setup_env.sh
source "$MLCOURSE_ROOT/slurm/setup_env.sh"

OUT=${MLCOURSE_LESSONS_OUT:-$MLCOURSE_SCRATCH/mlcourse-lessons/${SLURM_JOB_ID:-local}}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export MLCOURSE_RESUME=${MLCOURSE_RESUME:-$MLCOURSE_SCRATCH/mlcourse-lessons/kept-runs}
echo "== lessons: ${*:-all}, full mode; output in $OUT; finished training runs kept in $MLCOURSE_RESUME"
srun python tools/run_course.py --full --out "$OUT" "$@"
rc=$?
echo "== $(date +%T) lessons ended with status $rc; summary: $OUT/summary.md"
exit "$rc"
