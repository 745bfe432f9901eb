"results/: full-mode figures as the runs wrote them, and README's measured table generated from them."
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {"notebook", "mode", "commit", "date", "machine", "wall_s", "peak_rss_mib", "figures"}
MEMORY_LIMIT_MIB = 8 * 1024   # a lesson in full mode fits a laptop with 8 GiB


def test_every_results_file_is_a_full_mode_run_of_a_notebook():
    for p in sorted((ROOT/"results").glob("*.json")):
        r = json.loads(p.read_text())
        assert REQUIRED <= set(r), f"{p.name} lacks {REQUIRED - set(r)}"
        assert r["mode"] == "full" and (ROOT/"nbs"/r["notebook"]).exists(), f"{p.name}: no notebook nbs/{r['notebook']}"
        assert r["peak_rss_mib"] <= MEMORY_LIMIT_MIB, f"{p.name}: peak memory {r['peak_rss_mib']} MiB, over 8 GiB"
        for f in r["figures"]:
            assert {"name", "value", "shown"} <= set(f), f"{p.name}: {f}"
            if "seeds" in f and len(f["seeds"]) > 1: assert "std" in f, f"{p.name}: {f['name']} has seeds but no spread"
            if "seeds" in f and len(f["seeds"]) == 1:   # one seed: no spread claimed
                assert "std" not in f and "no spread" in f["shown"], f"{p.name}: {f['name']}: one seed shown with a spread"


def test_readme_table_is_generated_from_results(tmp_path):
    r = subprocess.run([sys.executable, "tools/results_table.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path/"res").mkdir()   # a new results file makes the README disagree until the table is rewritten
    (tmp_path/"res"/"99_x.json").write_text(json.dumps({"notebook": "99_x.ipynb", "mode": "full", "commit": "0" * 40,
        "date": "2026-12-01 10:00", "wall_s": 60, "machine": {"cpu": "a CPU", "cores": 2},
        "figures": [{"name": "acc", "value": 0.9, "shown": "0.9 ± 0.01"}]}))
    readme = tmp_path/"README.md"; readme.write_text((ROOT/"README.md").read_text())
    args = [sys.executable, "tools/results_table.py", "--readme", str(readme), "--results", str(tmp_path/"res")]
    assert subprocess.run(args + ["--check"], cwd=ROOT, capture_output=True).returncode == 1
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    assert "| 99_x | acc | 0.9 ± 0.01 |" in readme.read_text()
    assert subprocess.run(args + ["--check"], cwd=ROOT, capture_output=True).returncode == 0


BENCH_REQUIRED = REQUIRED - {"notebook"} | {"script"}

def test_every_bench_results_file_is_a_full_run_of_a_benchmark():
    for p in sorted((ROOT/"results"/"bench").glob("*.json")):
        r = json.loads(p.read_text())
        assert BENCH_REQUIRED <= set(r), f"{p.name} lacks {BENCH_REQUIRED - set(r)}"
        assert r["mode"] == "full" and (ROOT/r["script"]).exists(), f"{p.name}: no benchmark {r['script']}"
        assert r["figures"] and all({"name", "value", "shown"} <= set(f) for f in r["figures"]), p.name


def test_make_bench_keeps_a_full_runs_figures_and_never_a_quick_or_failed_one(tmp_path):
    scripts = tmp_path/"scripts"; scripts.mkdir()
    (scripts/"bench_fake.py").write_text("from mlcourse.core import record\nrecord('fake: a over b', 2.0, '{:.1f}x')\n")
    (scripts/"bench_broken.py").write_text("from mlcourse.core import record\nrecord('broken: x', 1)\nraise SystemExit(3)\n")
    run = lambda res, *extra, **env: subprocess.run([sys.executable, "tools/bench.py", *extra, "--scripts", str(scripts),
                                                     "--results", str(res)], cwd=ROOT, capture_output=True, text=True,
                                                    env={**os.environ, **env})
    r = run(tmp_path/"quick", BENCH_QUICK="1")
    assert r.returncode == 1 and "bench_broken.py exited with 3" in r.stdout, r.stdout + r.stderr   # a failure is named
    assert not (tmp_path/"quick").exists()                     # quick mode only prints
    r = run(tmp_path/"full", "fake", BENCH_QUICK="0")
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((tmp_path/"full"/"bench_fake.json").read_text())
    assert BENCH_REQUIRED <= set(res) and res["mode"] == "full" and res["peak_rss_mib"] > 0
    assert res["figures"] == [{"name": "fake: a over b", "value": 2.0, "shown": "2.0x"}]
    r = run(tmp_path/"full2", BENCH_QUICK="0")                 # the broken one writes nothing, the good one does
    assert r.returncode == 1 and sorted(p.name for p in (tmp_path/"full2").iterdir()) == ["bench_fake.json"]
    assert run(tmp_path/"x", "nothing_like_this").returncode != 0   # a name that matches no benchmark says so
    readme = tmp_path/"README.md"; readme.write_text((ROOT/"README.md").read_text())
    (tmp_path/"res").mkdir(); (tmp_path/"full").rename(tmp_path/"res"/"bench")
    subprocess.run([sys.executable, "tools/results_table.py", "--readme", str(readme), "--results", str(tmp_path/"res")],
                   cwd=ROOT, check=True, capture_output=True)
    assert "| bench_fake | fake: a over b | 2.0x |" in readme.read_text()
