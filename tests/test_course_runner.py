"`make course`'s runner: executes notebooks in fresh processes, writes them with outputs and a summary page."
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_runner_writes_executed_notebooks_and_summary(tmp_path):
    r = subprocess.run([sys.executable, "tools/run_course.py", "--quick", "00_whole_game", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    nb = json.loads((tmp_path/"00_whole_game.ipynb").read_text())
    outs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("mode quick" in "".join(o.get("text", "")) for o in outs)   # env_report ran, in quick mode
    summary = (tmp_path/"summary.md").read_text()
    assert "| 00_whole_game.ipynb |" in summary and "quick mode" in summary
    assert "device: cpu" in summary or "device: cuda" in summary         # the figure the notebook records
    assert "an example figure" not in summary                            # a figure recorded elsewhere stays there


def probe(path, *sources):
    "Write a notebook at `path` with one code cell per source."
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [s]} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return str(path)


def course(*args, env=None):
    return subprocess.run([sys.executable, "tools/run_course.py", "--quick", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_runner_reports_a_failing_notebook(tmp_path):
    r = course(probe(tmp_path/"zz_failing_probe.ipynb", "raise ValueError('broken on purpose')"), "--out", str(tmp_path/"out"))
    assert r.returncode != 0 and "zz_failing_probe.ipynb" in r.stderr
    assert "broken on purpose" in r.stderr and "**failed**" in (tmp_path/"out"/"summary.md").read_text()


def test_runner_names_lessons_over_the_time_budget(tmp_path):
    slow = probe(tmp_path/"zz_slow_probe.ipynb", "x = 1", "import time; time.sleep(6)")
    fast = probe(tmp_path/"zz_fast_probe.ipynb", "x = 1")
    out = tmp_path/"out"
    r = course(slow, fast, "--budget", "5", "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr           # over budget is a figure, not a failure
    assert "over the 5 s budget: zz_slow_probe.ipynb" in r.stdout and "zz_fast_probe.ipynb (" not in r.stdout
    assert "OVER BUDGET" in next(l for l in r.stdout.splitlines() if "zz_slow_probe" in l)
    assert "slowest: cell 1 `import time; time.sleep(6)`" in r.stdout   # the cell that took the time
    summary = (out/"summary.md").read_text()
    assert "over the 5 s budget: zz_slow_probe.ipynb" in summary and "zz_fast_probe.ipynb (" not in summary
    env = dict(os.environ, MLCOURSE_BUDGET_S="60")                       # the budget from the environment
    r = course(fast, "--out", str(out), env=env)
    assert "every lesson within the 60 s budget" in r.stdout and "OVER BUDGET" not in r.stdout
    r = course(fast, "--out", str(out), env=dict(os.environ, MLCOURSE_BUDGET_S="soon"))
    assert r.returncode != 0 and "MLCOURSE_BUDGET_S='soon' is not a number" in r.stderr


def test_full_mode_writes_results_and_quick_mode_never_does(tmp_path):
    nb = probe(tmp_path/"99_probe.ipynb", "from mlcourse.core import record, is_quick",
               "record('accuracy', 0.5, seeds={0: 0.4, 1: 0.6})", "x = bytearray(50 * 2**20)")
    env = {**os.environ, "MLCOURSE_RESULTS": str(tmp_path/"results")}
    r = course(nb, "--out", str(tmp_path/"q"), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path/"results").exists(), "quick mode must not write results/"
    r = subprocess.run([sys.executable, "tools/run_course.py", "--full", nb, "--out", str(tmp_path/"f")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path/"results"/"99_probe.json").read_text())
    assert res["mode"] == "full" and res["notebook"] == "99_probe.ipynb" and len(res["commit"]) >= 40
    assert {"cpu", "cores", "torch"} <= set(res["machine"]) and res["wall_s"] > 0 and res["date"]
    assert res["peak_rss_mib"] >= 50                         # the 50 MiB the notebook allocated
    fig, = res["figures"]
    assert fig["name"] == "accuracy" and fig["value"] == 0.5 and fig["seeds"] == {"0": 0.4, "1": 0.6}
    assert abs(fig["std"] - 0.1414) < 1e-3


def test_a_lesson_number_names_that_lesson_only():
    "NB=12 runs lesson 12, not the project study 12a after it; a shorter prefix still picks every lesson it starts."
    import importlib.util
    spec = importlib.util.spec_from_file_location("run_course", ROOT/"tools"/"run_course.py")
    rc = importlib.util.module_from_spec(spec); spec.loader.exec_module(rc)
    names = lambda o: [p.name for p in rc.pick(o)]
    assert names("12") == ["12_ensembles_pseudo_labels.ipynb"]
    assert names("02") == ["02_data_wrangling.ipynb"]
    assert names("02a") == ["02a_distributed.ipynb"]
    assert set(names("1")) >= {"10_error_analysis.ipynb", "12_ensembles_pseudo_labels.ipynb", "15_from_the_projects.ipynb"}
    assert names("99") == []
