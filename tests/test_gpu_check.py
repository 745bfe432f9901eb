"`make gpu-check` on a machine without a GPU: the CPU paths run, the table is printed, and it says no GPU path ran."
import os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_without_a_gpu_says_so_and_checks_resume():
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"gpu_check.py"), "--quick"], capture_output=True, text=True,
                       cwd=ROOT, timeout=600, env={**os.environ, "MLCOURSE_PROGRESS": "log", "CUDA_VISIBLE_DEVICES": ""})
    out = r.stdout
    assert r.returncode == 0, (out + r.stderr)[-2000:]
    assert "NO GPU" in out and "no GPU path was exercised" in out
    assert 'precision="auto" chooses:' in out
    rows = {l.split("  ")[0].strip(): l for l in out.splitlines() if l.startswith(("fit 1 epoch", "checkpoint", "DDP", "data:"))}
    assert "fit 1 epoch, fp32" in rows and any("channels_last" in k for k in rows), rows
    assert all("images/s" in v for k, v in rows.items() if k.startswith("fit")), rows
    assert "identical weights" in rows["checkpoint -> resume"]
    assert "not run" in rows["DDP"]
    share = re.search(r"  (\d+\.\d)%  ", rows["data: share of a step producing the batch"])
    assert share and 0 < float(share.group(1)) < 100, rows
    rate = re.search(r"  ([\d,]+) images/s .*x a per-item PIL DataLoader \+ ToTensor \(([\d,]+) images/s\)",
                     rows["data: batches alone, TensorLoader"])
    assert rate and all(int(g.replace(",", "")) > 0 for g in rate.groups()), rows
