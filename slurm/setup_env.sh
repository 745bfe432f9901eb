# shellcheck shell=bash
# Sourced (never run) by the batch scripts in slurm/ after they set MLCOURSE_ROOT (the checkout). It loads the
# PyTorch module, activates (first time: creates) the venv, copies the data to the node's NVMe, and exports the
# folders. Each Puhti path below can be replaced by exporting the variable before `sbatch` (tests/test_slurm.py
# points them all at temporary folders).

mlc_die() { echo "== error: $*" >&2; exit 1; }

PYTORCH_MODULE=${PYTORCH_MODULE:-pytorch/2.5}   # PyTorch 2.5.1; CSC's page docs.csc.fi/apps/pytorch lists the others
# The CSC project: MLCOURSE_PROJECT, else the account the job was submitted with (sbatch --account / SBATCH_ACCOUNT).
MLCOURSE_PROJECT=${MLCOURSE_PROJECT:-${SLURM_JOB_ACCOUNT:-project_XXXXXXX}}
USER=${USER:-$(id -un)}
if [ "$MLCOURSE_PROJECT" = project_XXXXXXX ] && { [ -z "${MLCOURSE_SCRATCH:-}" ] || [ -z "${MLCOURSE_PROJAPPL:-}" ]; }; then
  mlc_die "no CSC project given: export MLCOURSE_PROJECT=project_<number> and SBATCH_ACCOUNT=project_<number>" \
          "before sbatch (csc-projects lists yours)"
fi
MLCOURSE_SCRATCH=${MLCOURSE_SCRATCH:-/scratch/$MLCOURSE_PROJECT/$USER}     # data, checkpoints, outputs (Lustre)
MLCOURSE_PROJAPPL=${MLCOURSE_PROJAPPL:-/projappl/$MLCOURSE_PROJECT/$USER}  # the checkout and the venv
MLCOURSE_VENV=${MLCOURSE_VENV:-$MLCOURSE_PROJAPPL/mlcourse-venv}
# kept between jobs, copied to $LOCAL_SCRATCH; an MLCOURSE_DATA exported before sbatch names it too
MLCOURSE_DATA_HOME=${MLCOURSE_DATA_HOME:-${MLCOURSE_DATA:-$MLCOURSE_SCRATCH/mlcourse-data}}
MLCOURSE_STAGE=${MLCOURSE_STAGE:-1}                                      # 0: read the data on Lustre, no copy
export TORCH_HOME=${TORCH_HOME:-$MLCOURSE_SCRATCH/torch-home}              # pretrained weights, kept between jobs
export MLCOURSE_CHECKPOINT_DIR=${MLCOURSE_CHECKPOINT_DIR:-$MLCOURSE_SCRATCH/mlcourse-runs/${SLURM_JOB_ID:-local}}
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1     # log lines at once; no progress-bar redraws in slurm-*.out
cd "$MLCOURSE_ROOT" || mlc_die "cannot enter the checkout $MLCOURSE_ROOT"
echo "== job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname), $(date '+%F %T'), project $MLCOURSE_PROJECT"

# PyTorch from CSC's module, the course on top of it in a venv that sees the module's packages.
set +u; module load "$PYTORCH_MODULE"; _rc=$?; set -u
[ "$_rc" -eq 0 ] || mlc_die "module load $PYTORCH_MODULE failed: 'module avail pytorch' lists the versions; export PYTORCH_MODULE=pytorch/<version>"
if [ ! -x "$MLCOURSE_VENV/bin/python" ]; then
  echo "== first run: creating the venv $MLCOURSE_VENV on top of $PYTORCH_MODULE"
  if ! { mkdir -p "$(dirname "$MLCOURSE_VENV")" && python3 -m venv --system-site-packages "$MLCOURSE_VENV"; }; then
    mlc_die "could not create the venv $MLCOURSE_VENV"
  fi
  if ! "$MLCOURSE_VENV/bin/python" -m pip install -q -e "$MLCOURSE_ROOT" "execnb>=0.1.12,<0.2"; then
    rm -rf "$MLCOURSE_VENV"
    mlc_die "pip could not install mlcourse into $MLCOURSE_VENV (removed again); see the pip messages above"
  fi
fi
set +u
# shellcheck source=/dev/null
source "$MLCOURSE_VENV/bin/activate"
set -u
_v=$(python -c 'from importlib import util, metadata as m; s = util.find_spec("mlcourse")
print("torch", m.version("torch"), "| mlcourse from", s.submodule_search_locations[0])') \
  || mlc_die "torch or mlcourse is missing in $MLCOURSE_VENV: remove that folder and submit again (the job rebuilds it)"

# The data: copied once per job to the node's NVMe ($LOCAL_SCRATCH exists with --gres=...,nvme:<GB>).
[ -f "$MLCOURSE_DATA_HOME/fashion-mnist/train-images-idx3-ubyte.gz" ] \
  || echo "== warning: no Fashion-MNIST in $MLCOURSE_DATA_HOME/fashion-mnist (slurm/README.md, step 3, puts it there)"
if [ "$MLCOURSE_STAGE" = 1 ] && [ -n "${LOCAL_SCRATCH:-}" ]; then
  export MLCOURSE_DATA=$LOCAL_SCRATCH/mlcourse-data
  mkdir -p "$MLCOURSE_DATA" "$MLCOURSE_DATA_HOME"
  _t=$SECONDS
  cp -a "$MLCOURSE_DATA_HOME/." "$MLCOURSE_DATA/" \
    || mlc_die "copying $MLCOURSE_DATA_HOME to \$LOCAL_SCRATCH failed: is nvme:<GB> in --gres at least 'du -sh $MLCOURSE_DATA_HOME'?"
  echo "== data: $MLCOURSE_DATA_HOME copied to $MLCOURSE_DATA in $((SECONDS - _t)) s"
else
  [ "$MLCOURSE_STAGE" = 1 ] && echo "== no \$LOCAL_SCRATCH (add nvme:<GB> to --gres): reading the data on Lustre"
  export MLCOURSE_DATA=$MLCOURSE_DATA_HOME
  mkdir -p "$MLCOURSE_DATA"
fi
mkdir -p "$TORCH_HOME"
echo "== $_v"
echo "== MLCOURSE_DATA=$MLCOURSE_DATA TORCH_HOME=$TORCH_HOME MLCOURSE_CHECKPOINT_DIR=$MLCOURSE_CHECKPOINT_DIR"
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1}   # srun no longer inherits sbatch's --cpus-per-task (Slurm >= 22.05)
