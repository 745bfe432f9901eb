"""fit under torchrun, two gloo processes on the CPU: how the data is split, where collectives' tensors live, signals.

tests/helpers/ddp_probe.py trains on items whose one pixel is their id, so each process's share can be read back.
"""
import json, os, signal, subprocess, sys, time
from collections import Counter
from pathlib import Path
import pytest, torch
from mlcourse.train import REQUEUE_STATUS, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT/"tests"/"helpers"/"ddp_probe.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MLCOURSE_PROGRESS": "log"}


def probe(out, *args, procs=2, check=True):
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs else [sys.executable]
    r = subprocess.run([*launch, str(PROBE), "--out", str(out), *map(str, args)], capture_output=True, text=True,
                       env=ENV, cwd=ROOT, timeout=180)
    if check: assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    if r.returncode: return r
    return [json.loads((Path(out)/f"rank{k}.json").read_text()) for k in range(max(procs, 1))]


def interleave(a, b): return [v for pair in zip(a, b) for v in pair]


@pytest.mark.parametrize("loader,order", [("tensor", "shuffle"), ("tensor", "rare"), ("dataloader", "shuffle"),
                                          ("dataloader", "weighted")])
def test_two_processes_split_one_order(tmp_path, loader, order):
    r0, r1 = probe(tmp_path/"two", "--loader", loader, "--order", order, "--bs", 4)
    one, = probe(tmp_path/"one", "--loader", loader, "--order", order, "--bs", 8, procs=0)
    for e, (a, b, single) in enumerate(zip(r0["epochs"], r1["epochs"], one["epochs"])):
        assert len(a) == len(b) == 20
        assert interleave(a, b) == single, f"epoch {e}: the two shares are not the one-process order split in two"
        if order == "shuffle":
            assert not set(a) & set(b) and set(a) | set(b) == set(range(40)), "shares must be disjoint and whole"
        else:   # the sampler's weights are kept: items of weight 0 are never drawn
            assert len(set(a) | set(b)) < 40, "drawn with replacement, as the sampler does"
            if order == "weighted": assert all(i % 2 == 0 for i in a + b), "an item of weight 0 was drawn"
    assert r0["epochs"][0] != r0["epochs"][1], "a new order every epoch"
    assert probe(tmp_path/"again", "--loader", loader, "--order", order, "--bs", 4)[0]["epochs"] == r0["epochs"]
    drop_time = lambda recs: [{k: v for k, v in r.items() if k != "time"} for r in recs]
    assert drop_time(r0["records"]) == drop_time(r1["records"])     # the same metrics on every process
    assert abs(r0["records"][-1]["train_loss"] - one["records"][-1]["train_loss"]) < 1e-5


def test_an_odd_number_of_items_wraps_around_by_one(tmp_path):
    r0, r1 = probe(tmp_path, "--items", 39, "--bs", 4)
    for a, b in zip(r0["epochs"], r1["epochs"]):
        assert len(a) == len(b) == 20 and set(a) | set(b) == set(range(39))
        assert sum(Counter(a + b).values()) - 39 == 1


def test_every_collective_gets_a_tensor_on_the_process_device(tmp_path):
    for r in probe(tmp_path, "--loader", "tensor", "--order", "shuffle"):
        kinds = Counter(name for name, _ in r["calls"])
        assert kinds["broadcast"] >= 4 and kinds["all_reduce"] > 0 and kinds["all_gather"] > 0, kinds
        assert all(devs == ["cpu"] for _, devs in r["calls"]), r["calls"]


def test_nccl_would_refuse_a_cpu_tensor_and_we_say_so_first():
    from unittest import mock
    from mlcourse.train import _on_device
    with mock.patch("torch.cuda.current_device", return_value=1):
        with pytest.raises(RuntimeError, match="cpu was given to a collective.*cuda:1"):
            _on_device(torch.zeros(1), torch.device("cuda"), "the epoch's order")


def test_a_custom_batch_sampler_is_refused_by_name(tmp_path):
    r = probe(tmp_path, "--loader", "dataloader", "--order", "batch_sampler", check=False)
    assert r.returncode != 0 and "custom batch_sampler (BatchSampler)" in r.stdout + r.stderr


def test_sigusr1_stops_every_process_at_the_same_batch_then_resumes(tmp_path):
    ck = tmp_path/"ckpt"
    args = ["--ckpt", ck, "--epochs", 3, "--bs", 2, "--sleep", 0.05, "--items", 120]
    p = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(PROBE), "--out", str(tmp_path/"a"), *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, cwd=ROOT)
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith("step 1 1 3"): break                   # rank 1, second epoch, batch 3
    pids = subprocess.run(["pgrep", "-f", f"ddp_probe.py --out {tmp_path/'a'}"], capture_output=True, text=True).stdout.split()
    workers = [int(q) for q in pids if int(q) != p.pid]
    assert len(workers) == 2, pids
    os.kill(max(workers), signal.SIGUSR1)                         # one worker only: the other must stop with it
    out, _ = p.communicate(timeout=90)
    lines += out.splitlines(keepends=True)
    steps = {r: [l.split()[2:] for l in lines if l.startswith(f"step {r} ")][-1] for r in (0, 1)}
    assert steps[0] == steps[1], steps
    assert {l.strip() for l in lines if l.startswith("exit ")} == {f"exit 0 {REQUEUE_STATUS}", f"exit 1 {REQUEUE_STATUS}"}
    assert sorted(q.name for q in ck.iterdir()) == ["best.pt", "last.pt"]   # one checkpoint, no temporary files
    ckpt = load_checkpoint(ck/"last.pt")
    assert [ckpt["epoch"], ckpt["batch"]] == [int(v) for v in steps[0]]
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        str(PROBE), "--out", str(tmp_path/"b"), *map(str, args[:-4]), "--items", "120", "--resume"],
                       capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=180)
    assert r.returncode == 0 and "resumed from" in r.stdout, (r.stdout + r.stderr)[-2000:]
    assert len(json.loads((tmp_path/"b"/"rank0.json").read_text())["records"]) == 3
