"""The Puhti batch scripts in slurm/, run here with stub `sbatch`, `srun`, `module` and `scontrol` and the Slurm
variables pointing at temporary folders: data staging, the venv, signal forwarding, requeue, resume. CPU only."""
import os, re, shutil, signal, subprocess, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SLURM = ROOT/"slurm"
JOB = "4242"

STUBS = {
    # sbatch runs the job at once and, like Slurm, runs a copy of the script from a spool folder
    "sbatch": """spool=$(mktemp -d "$STUB_DIR/spool.XXXX"); cp "$1" "$spool/slurm_script"; echo "sbatch $*" >> "$STUB_CALLS"
shift; export SLURM_SUBMIT_DIR=$PWD; exec bash "$spool/slurm_script" "$@"
""",
    "srun": 'echo "srun $* (SRUN_CPUS_PER_TASK=$SRUN_CPUS_PER_TASK)" >> "$STUB_CALLS"; exec "$@"\n',
    "module": 'echo "module $*" >> "$STUB_CALLS"\n',
    "scontrol": 'echo "scontrol $*" >> "$STUB_CALLS"\n',
}
# For the lessons job: the module's python3; "-m venv DIR" makes a venv whose python records what it is asked to run.
FAKE_PYTHON3 = """echo "python3 $*" >> "$STUB_CALLS"
[ "$1 $2" = "-m venv" ] || exit 0
dir=${!#}; mkdir -p "$dir/bin"
printf '#!/bin/bash\\necho "venv-python $* (MLCOURSE_DATA=$MLCOURSE_DATA${MLCOURSE_RESUME:+ MLCOURSE_RESUME=$MLCOURSE_RESUME})" >> "$STUB_CALLS"\\n' > "$dir/bin/python"
chmod +x "$dir/bin/python"; printf 'export VIRTUAL_ENV=%s PATH=%s/bin:$PATH\\n' "$dir" "$dir" > "$dir/bin/activate"
"""


class Puhti:
    "Temporary /scratch, /projappl and node-local NVMe, stub Slurm commands, and the job's environment."
    def __init__(self, tmp):
        self.tmp, self.bin = tmp, tmp/"bin"
        self.scratch, self.projappl, self.nvme = tmp/"scratch", tmp/"projappl", tmp/"nvme"
        for d in (self.bin, self.scratch, self.projappl, self.nvme): d.mkdir()
        for name, body in STUBS.items(): self.stub(name, body)
        self.calls = tmp/"calls.log"; self.calls.touch()
        fm = self.scratch/"mlcourse-data"/"fashion-mnist"; fm.mkdir(parents=True)   # the data kept on /scratch
        from mlcourse.datasets import fashion_mnist_dir
        for f in fashion_mnist_dir(download=False).glob("*-ubyte.gz"): shutil.copy(f, fm)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLURM_", "MLCOURSE_", "SBATCH_", "VIRTUAL_ENV")) and k != "TORCH_HOME"}
        env.update(PATH=f"{self.bin}:{os.environ['PATH']}", STUB_DIR=str(tmp), STUB_CALLS=str(self.calls),
                   SLURM_JOB_ID=JOB, SLURM_CPUS_PER_TASK="1", LOCAL_SCRATCH=str(self.nvme), USER="student",
                   MLCOURSE_PROJECT="project_2000000", MLCOURSE_SCRATCH=str(self.scratch),
                   MLCOURSE_PROJAPPL=str(self.projappl), MLCOURSE_VENV=str(ROOT/".venv"), MLCOURSE_QUICK="1",
                   OMP_NUM_THREADS="1")
        self.env, self.procs = env, []

    def stub(self, name, body):
        p = self.bin/name; p.write_text("#!/bin/bash\n" + body); p.chmod(0o755)

    def submit(self, script, *args, log="job.out", **env):
        "Start `sbatch slurm/<script> args` from the checkout, stdout and stderr to `log` (as Slurm's --output)."
        log = self.tmp/log
        with open(log, "w") as f:
            p = subprocess.Popen([str(self.bin/"sbatch"), f"slurm/{script}", *args], cwd=ROOT, env={**self.env, **env},
                                 stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p, log

    def run(self, script, *args, timeout=120, **env):
        p, log = self.submit(script, *args, **env)
        return p.wait(timeout), log.read_text()

    def close(self):
        for p in self.procs:  # a failed test leaves no training behind
            if p.poll() is None: os.killpg(p.pid, signal.SIGKILL); p.wait()


@pytest.fixture
def puhti(tmp_path):
    pz = Puhti(tmp_path)
    yield pz
    pz.close()


def wait_for(log, text, p, timeout=90):
    t0 = time.time()
    while text not in log.read_text():
        assert p.poll() is None, f"the job ended (status {p.returncode}) before {text!r}:\n{log.read_text()}"
        assert time.time() - t0 < timeout, f"no {text!r} after {timeout} s:\n{log.read_text()}"
        time.sleep(0.05)


def interrupt_then_resume(pz, script, *args, first_env={}, **env):
    "Run the job, send SIGUSR1 to the batch shell in epoch 2, check the requeue; run it again as Slurm's restart."
    p, log = pz.submit(script, *args, **env, **first_env)
    wait_for(log, "epoch 1/6", p)
    p.send_signal(signal.SIGUSR1)            # what --signal=B:USR1@120 does before the time limit
    rc, out = p.wait(90), log.read_text()
    ck = pz.scratch/"mlcourse-runs"/JOB/"last.pt"
    assert "was cut off" not in out, ("a process was stopped while it wrote last.pt (torchrun stops the others once one "
                                      "exits: fit must keep every process until process 0 has written it), so the "
                                      "requeued job would repeat the work since the last epoch:\n" + out)
    assert rc == 0 and f"checkpoint saved to {ck}" in out, out   # fit's line, then requeue.sh's check of the file
    assert f"checkpoint {ck} written after the signal" in out and ck.exists(), out
    assert f"scontrol requeue {JOB}" in pz.calls.read_text().splitlines(), pz.calls.read_text()
    rc2, out2 = pz.run(script, *args, log="job2.out", SLURM_RESTART_COUNT="1", **env)
    assert rc2 == 0 and f"resumed from {ck} at epoch 2, batch" in out2, out2
    assert "epoch 1/6" not in out2 and "epoch 6/6" in out2 and "train_fashion: done, 6 epochs" in out2, out2
    assert pz.calls.read_text().count("scontrol") == 1   # finished: not requeued again
    assert "\r" not in out + out2                       # log lines, no progress-bar redraws
    return out, out2


def test_train_gpu_stages_data_requeues_and_resumes(puhti):
    out, _ = interrupt_then_resume(puhti, "train_gpu.sh", "slurm/train_fashion.py", "--epochs", "6")
    assert "SIGUSR1: stopped at epoch 2" in out and "stopped with status 124 after checkpointing" in out, out
    staged = puhti.nvme/"mlcourse-data"/"fashion-mnist"
    assert sorted(f.name for f in staged.iterdir()) == sorted(f.name for f in (puhti.scratch/"mlcourse-data"/"fashion-mnist").iterdir())
    assert f"training images from {staged}, 1 process(es), TORCH_HOME={puhti.scratch/'torch-home'}" in out, out
    assert re.search(r"^module load pytorch/\d+\.\d+$", puhti.calls.read_text(), re.M), puhti.calls.read_text()
    assert "first run: creating the venv" not in out    # the existing venv is used as it is


def test_train_ddp_two_processes_requeues_and_resumes(puhti):
    # MLCOURSE_CKPT_PAUSE stalls the write of last.pt after the signal for 3 s. Process 1 has nothing to write; once
    # it exits, torchrun stops the other workers with SIGTERM, which must not cut off process 0's write.
    out, out2 = interrupt_then_resume(puhti, "train_ddp.sh", "slurm/train_fashion.py", "--epochs", "6",
                                      first_env={"MLCOURSE_CKPT_PAUSE": "3"}, SLURM_GPUS_ON_NODE="2", SLURM_CPUS_PER_TASK="2")
    assert "torchrun: 2 processes, 1 CPU threads each" in out and "2 process(es)" in out, out
    assert "stopped with status 1 after checkpointing" in out, out   # torchrun's status when its workers exit 124


@pytest.mark.parametrize("status,restarts", [(3, "0"), (124, "10")])
def test_no_requeue_after_a_failure_or_too_many_restarts(puhti, status, restarts):
    fake = puhti.tmp/"exit.py"; fake.write_text(f"raise SystemExit({status})\n")
    rc, out = puhti.run("train_gpu.sh", str(fake), SLURM_RESTART_COUNT=restarts)
    assert rc == status and "scontrol" not in puhti.calls.read_text(), out
    assert ("failed with status 3 (not requeued)" if status == 3 else "not requeued: 10 restarts already") in out, out


def test_lessons_job_creates_the_venv_and_runs_the_chosen_lessons_in_full_mode(puhti):
    puhti.stub("python3", FAKE_PYTHON3)
    venv, data = puhti.projappl/"mlcourse-venv", puhti.nvme/"mlcourse-data"
    rc, out = puhti.run("lessons_gpu.sh", "04", "05", MLCOURSE_VENV="")   # empty: the default under /projappl
    calls = puhti.calls.read_text().splitlines()
    assert rc == 0, out
    assert f"python3 -m venv --system-site-packages {venv}" in calls, calls
    assert f"venv-python -m pip install -q -e {ROOT} execnb>=0.1.12,<0.2 (MLCOURSE_DATA=)" in calls, calls
    lessons_out = puhti.scratch/"mlcourse-lessons"/JOB
    assert f"srun python tools/run_course.py --full --out {lessons_out} 04 05 (SRUN_CPUS_PER_TASK=1)" in calls, calls
    kept = puhti.scratch/"mlcourse-lessons"/"kept-runs"   # one folder for every job: a resubmitted job reuses its runs
    assert f"venv-python tools/run_course.py --full --out {lessons_out} 04 05 (MLCOURSE_DATA={data} MLCOURSE_RESUME={kept})" in calls, calls
    assert (data/"fashion-mnist"/"train-labels-idx1-ubyte.gz").exists()
    module = next(i for i, c in enumerate(calls) if c.startswith("module load pytorch/"))
    assert module < calls.index(f"python3 -m venv --system-site-packages {venv}")   # the venv sits on the module


def test_a_job_without_a_project_stops_with_a_message(puhti):
    env = {k: "" for k in ("MLCOURSE_PROJECT", "MLCOURSE_SCRATCH", "MLCOURSE_PROJAPPL")}
    rc, out = puhti.run("lessons_gpu.sh", "04", **env)
    assert rc != 0 and "no CSC project given: export MLCOURSE_PROJECT=project_<number>" in out, out
    assert puhti.calls.read_text().splitlines() == ["sbatch slurm/lessons_gpu.sh 04"]   # nothing else ran


def test_scripts_pass_bash_n_and_shellcheck():
    scripts = sorted(SLURM.glob("*.sh"))
    assert {s.name for s in scripts} >= {"lessons_gpu.sh", "train_gpu.sh", "train_ddp.sh", "requeue.sh", "setup_env.sh"}
    for s in scripts:
        r = subprocess.run(["bash", "-n", str(s)], capture_output=True, text=True)
        assert r.returncode == 0, f"{s.name}: {r.stderr}"
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: sudo apt-get install shellcheck (tools/setup.sh does it where it can)")
    r = subprocess.run(["shellcheck", "-x", *(str(s.relative_to(ROOT)) for s in scripts)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
