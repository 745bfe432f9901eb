"`make course`'s runner: executes notebooks in fresh processes, writes them with outputs and a summary page."
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_runner_writes_executed_notebooks_and_summary(tmp_path):
    r = subprocess.run([sys.executable, "tools/run_course.py", "--quick", "00_core", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    nb = json.loads((tmp_path/"00_core.ipynb").read_text())
    outs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("mode quick" in "".join(o.get("text", "")) for o in outs)   # env_report ran, in quick mode
    summary = (tmp_path/"summary.md").read_text()
    assert "| 00_core.ipynb |" in summary and "quick mode" in summary
    assert "device: cpu" in summary or "device: cuda" in summary         # the figure the notebook records
    assert "an example figure" not in summary                            # a figure recorded elsewhere stays there


def test_runner_reports_a_failing_notebook(tmp_path):
    bad = ROOT/"nbs"/"zz_failing_probe.ipynb"
    bad.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                                          "source": ["raise ValueError('broken on purpose')"]}],
                               "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    try:
        r = subprocess.run([sys.executable, "tools/run_course.py", "--quick", "zz_failing_probe", "--out", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally: bad.unlink()
    assert r.returncode != 0 and "zz_failing_probe.ipynb" in r.stderr
    assert "broken on purpose" in r.stderr and "**failed**" in (tmp_path/"summary.md").read_text()
