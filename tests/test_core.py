"Core: device choice under a faked environment, seeding, the quick-mode switch, data folder, records."
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch
import mlcourse.core as core
from mlcourse.core import get_device, seed_everything, is_quick, by_mode, data_dir, record, env_report


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.delenv("MLCOURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(core, "_mps_ok", lambda: False)


def test_device_order(no_gpu, monkeypatch):
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(core, "_mps_ok", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")          # cuda > mps > cpu


def test_device_overrides(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("MLCOURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")           # environment beats the automatic choice
    monkeypatch.setenv("MLCOURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda:1")
    assert get_device("cpu") == torch.device("cpu")      # the argument beats the environment


def test_missing_gpu_is_a_clear_error(no_gpu, monkeypatch):
    with pytest.raises(RuntimeError, match="no CUDA GPU"): get_device("cuda")
    monkeypatch.setenv("MLCOURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="MLCOURSE_DEVICE"): get_device()
    with pytest.raises(RuntimeError, match="no MPS"): get_device("mps")


def _draw():
    import random, numpy as np
    m = torch.nn.Linear(4, 3)
    return [random.random(), float(np.random.rand()), *torch.randn(3).tolist(), *m.weight.flatten().tolist()]


def test_seeding_repeats():
    seed_everything(123); a = _draw()
    seed_everything(123); b = _draw()
    seed_everything(124); c = _draw()
    assert a == b and a != c


def test_seeding_repeats_across_processes():
    code = ("from mlcourse.core import seed_everything; import torch; seed_everything(7, deterministic=True); "
            "print(torch.nn.Conv2d(1, 2, 3).weight.sum().item(), torch.randn(2).tolist())")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(outs) == 1


def test_deterministic_flag():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False


@pytest.mark.parametrize("env,want", [({"MLCOURSE_QUICK": "1"}, True), ({"MLCOURSE_QUICK": "0", "IN_TEST": "1"}, False),
                                      ({"IN_TEST": "1"}, True), ({}, False), ({"MLCOURSE_QUICK": "yes"}, True)])
def test_quick_switch(monkeypatch, env, want):
    for k in ("MLCOURSE_QUICK", "IN_TEST"): monkeypatch.delenv(k, raising=False)
    for k, v in env.items(): monkeypatch.setenv(k, v)
    assert is_quick() is want
    assert by_mode("q", "f") == ("q" if want else "f")


def test_quick_switch_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("MLCOURSE_QUICK", "sometimes")
    with pytest.raises(ValueError, match="MLCOURSE_QUICK"): is_quick()


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCOURSE_DATA", str(tmp_path/"d"))
    assert data_dir("x") == tmp_path/"d"/"x" and (tmp_path/"d"/"x").is_dir()
    monkeypatch.delenv("MLCOURSE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path/"cache"))
    assert data_dir(create=False) == tmp_path/"cache"/"mlcourse"


def test_record_and_report(monkeypatch, tmp_path, capsys):
    f = tmp_path/"figs.jsonl"
    monkeypatch.setenv("MLCOURSE_RECORD", str(f))
    assert record("acc", 0.5) == 0.5
    record("note", "fine")
    rows = [json.loads(l) for l in f.read_text().splitlines()]
    assert [r["name"] for r in rows] == ["acc", "note"] and rows[0]["value"] == 0.5
    assert "acc: 0.5" in capsys.readouterr().out
    rep = env_report(show=False)
    assert rep["torch"] == torch.__version__ and rep["mode"] in ("quick", "full")
