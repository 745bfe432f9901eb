"""fit under real failures: kill -9, a kill in the middle of a checkpoint write, SIGUSR1, NaN, pickled checkpoints, DDP.

Each run is a separate process (tests/helpers/train_worker.py): tiny data, CPU, deterministic, one thread.
"""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from mlcourse.train import fit, load_checkpoint, REQUEUE_STATUS, Callback

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT/"tests"/"helpers"/"train_worker.py"


def env(**extra):
    e = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra}
    e.pop("MLCOURSE_CKPT_PAUSE", None)
    e.update(extra)
    return e


def start(*args, **extra):
    return subprocess.Popen([sys.executable, str(WORKER), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env(**extra), cwd=ROOT)


def finish(proc, timeout=120):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def run(*args, **extra):
    rc, out = finish(start(*args, **extra))
    assert rc == 0, out[-3000:]
    return out


def same_weights(a, b):
    a, b = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert a.keys() == b.keys()
    for k in a: assert torch.equal(a[k], b[k]), f"{k} differs after resuming"


def wait_for(cond, timeout, proc=None, what=""):
    t0 = time.time()
    while not cond():
        if proc is not None and proc.poll() is not None: pytest.fail(f"the worker ended before {what}: {proc.stdout.read()[-2000:]}")
        if time.time() - t0 > timeout: pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "The final weights of an uninterrupted run."
    d = tmp_path_factory.mktemp("ref")
    run("--ckpt", d/"ckpt", "--out", d/"ref.pt")
    return d/"ref.pt"


def test_kill9_then_resume_is_bit_exact(reference, tmp_path):
    ck = tmp_path/"ckpt"
    p = start("--ckpt", ck, "--out", tmp_path/"w.pt", "--sleep", "0.02")
    wait_for(lambda: (ck/"last.pt").exists(), 120, p, "the first checkpoint")
    time.sleep(random.uniform(0.05, 0.6))       # somewhere in a later epoch
    assert p.poll() is None, "the run ended before it could be killed: make it slower"
    p.kill(); p.wait()                         # SIGKILL: no chance to clean up
    assert p.returncode == -signal.SIGKILL
    done = load_checkpoint(ck/"last.pt")["epoch"]
    assert 1 <= done < 4
    out = run("--ckpt", ck, "--out", tmp_path/"w.pt", "--resume")
    assert "resumed from" in out
    same_weights(reference, tmp_path/"w.pt")


def test_kill_during_checkpoint_write_keeps_previous(reference, tmp_path):
    ck = tmp_path/"ckpt"
    p = start("--ckpt", ck, "--out", tmp_path/"w.pt", MLCOURSE_CKPT_PAUSE="20")  # writes over last.pt stall half-way
    wait_for(lambda: (ck/"last.pt").exists(), 200, p, "the first checkpoint")
    wait_for(lambda: any(ck.glob(".last.pt.*.tmp")), 120, p, "the second checkpoint write")
    p.kill(); p.wait()
    tmp = next(ck.glob(".last.pt.*.tmp"))
    assert tmp.stat().st_size < (ck/"last.pt").stat().st_size   # a half-written file was left behind
    assert load_checkpoint(ck/"last.pt")["epoch"] == 1        # the previous checkpoint is whole
    run("--ckpt", ck, "--out", tmp_path/"w.pt", "--resume")
    assert not any(ck.glob(".*.tmp")), "the stale temporary file should be cleaned up on resume"
    same_weights(reference, tmp_path/"w.pt")


def test_sigusr1_checkpoints_exits_and_resumes_mid_epoch(reference, tmp_path):
    ck = tmp_path/"ckpt"
    p = start("--ckpt", ck, "--out", tmp_path/"w.pt", "--sleep", "0.05")
    wait_for(lambda: (ck/"last.pt").exists(), 120, p, "the first checkpoint")
    time.sleep(random.uniform(0.1, 0.5))
    t0 = time.time(); p.send_signal(signal.SIGUSR1)
    rc, out = finish(p, timeout=60)
    assert time.time() - t0 < 60
    assert rc == REQUEUE_STATUS, out[-2000:]
    ckpt = load_checkpoint(ck/"last.pt")
    assert ckpt["batch"] > 0, "the checkpoint should be taken at the batch where the signal arrived"
    last = [l for l in out.splitlines() if l.startswith("batch ")][-1].split()
    assert (ckpt["epoch"], ckpt["batch"]) == (int(last[1]), int(last[2]))
    run("--ckpt", ck, "--out", tmp_path/"w.pt", "--resume")
    same_weights(reference, tmp_path/"w.pt")     # resuming inside an epoch is exact too


def test_sigusr1_with_tensorloader_resume_exact(tmp_path):
    run("--out", tmp_path/"ref.pt", "--loader", "tensorloader", "--epochs", "2")
    ck = tmp_path/"ckpt"
    p = start("--ckpt", ck, "--out", tmp_path/"w.pt", "--loader", "tensorloader", "--epochs", "2", "--sleep", "0.05")
    wait_for(lambda: (ck/"last.pt").exists(), 120, p, "the first checkpoint")
    time.sleep(0.3); p.send_signal(signal.SIGTERM)
    rc, out = finish(p, 60)
    assert rc == REQUEUE_STATUS, out[-2000:]
    run("--ckpt", ck, "--out", tmp_path/"w.pt", "--loader", "tensorloader", "--epochs", "2", "--resume")
    same_weights(tmp_path/"ref.pt", tmp_path/"w.pt")


class NaNAt:
    "CrossEntropy that returns NaN at one call."
    def __init__(self, at): self.at, self.calls = at, 0
    def __call__(self, preds, yb):
        self.calls += 1
        loss = nn.functional.cross_entropy(preds, yb)
        return loss * float("nan") if self.calls == self.at else loss


def test_nan_loss_stops_with_clear_error(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 5), torch.randint(0, 2, (64,))
    dl = DataLoader(TensorDataset(x, y), batch_size=16)        # 4 batches an epoch
    model = nn.Linear(5, 2)
    loss_fn = NaNAt(4 + 3)                                    # epoch 2, batch 3
    with pytest.raises(FloatingPointError, match=r"epoch 2, batch 3") as e:
        fit(model, dl, epochs=3, loss_fn=loss_fn, lr=1e-2, checkpoint_dir=tmp_path, progress=False)
    assert loss_fn.calls == 7, "training must stop at the very step where the loss became NaN"
    assert "last.pt" in str(e.value)
    assert all(torch.isfinite(p).all() for p in model.parameters()), "the NaN step must not reach the weights"
    assert load_checkpoint(tmp_path/"last.pt")["epoch"] == 1


def test_pickled_checkpoint_is_refused(tmp_path):
    class Payload:
        def __reduce__(self): return (os.system, ("echo this ran while loading",))
    good = {"model": nn.Linear(2, 2).state_dict(), "epoch": 1}
    torch.save({**good, "extra": Payload()}, tmp_path/"last.pt")
    with pytest.raises(RuntimeError, match="pickled Python objects"):
        load_checkpoint(tmp_path/"last.pt")
    dl = DataLoader(TensorDataset(torch.randn(8, 2), torch.randint(0, 2, (8,))), batch_size=4)
    with pytest.raises(RuntimeError, match="pickled Python objects"):
        fit(nn.Linear(2, 2), dl, epochs=1, loss_fn=nn.CrossEntropyLoss(), lr=1e-3, checkpoint_dir=tmp_path,
            resume=True, progress=False)


def test_ddp_two_cpu_processes_match_one(tmp_path):
    one = tmp_path/"one.json"; two = tmp_path/"two.json"
    run("--ddp", "--bs", "32", "--out", one, "--epochs", "2")           # one process, batches of 32
    rc, out = finish(subprocess.Popen(                             # two processes, 16 each = the same batches
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
         "--ddp", "--bs", "16", "--out", str(two), "--epochs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(), cwd=ROOT), timeout=180)
    assert rc == 0, out[-3000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert abs(a["valid_loss"] - b["valid_loss"]) < 1e-4, (a, b)
    assert abs(a["acc"] - b["acc"]) < 1e-6, (a, b)
    assert abs(a["train_loss"] - b["train_loss"]) < 1e-4, (a, b)


def test_kill9_after_best_epoch_then_resume_stops_where_uninterrupted_does(tmp_path):
    "Early stopping survives a resume: the best epoch is remembered, best.pt is kept, the stop epoch is the same."
    args = ("--epochs", "12", "--early-stop", "2", "--noisy-valid")
    run("--ckpt", tmp_path/"ref", "--out", tmp_path/"ref.pt", *args)
    ref = json.loads((tmp_path/"ref.pt.json").read_text())
    best = ref["best_epoch"]
    assert ref["epochs"] == best + 2 < 12, ref                     # it did stop early, 2 epochs after its best
    ck = tmp_path/"ckpt"
    p = start("--ckpt", ck, "--out", tmp_path/"w.pt", "--sleep", "0.02", *args)
    for line in p.stdout:                                      # kill inside the epoch after the one after the best
        if line.startswith(f"batch {best + 1} 2"): break
    else: pytest.fail("the run ended before it could be killed")
    p.kill(); p.wait()
    assert load_checkpoint(ck/"last.pt")["epoch"] == best + 1
    assert load_checkpoint(ck/"best.pt")["epoch"] == best
    out = run("--ckpt", ck, "--out", tmp_path/"w.pt", "--resume", *args)
    assert "resumed from" in out and f"at epoch {best}" in out, out[-1500:]
    assert json.loads((tmp_path/"w.pt.json").read_text()) == ref
    assert load_checkpoint(ck/"best.pt")["epoch"] == best, "best.pt was overwritten by a worse epoch"
    same_weights(tmp_path/"ref.pt", tmp_path/"w.pt")           # the restored best weights, bit for bit
