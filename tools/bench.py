#!/usr/bin/env python3
"""`make bench`: run each benchmark script, print what it measures, and keep a full run's figures in results/bench/.

    python tools/bench.py                      # every tests/bench/bench_*.py
    python tools/bench.py bench_speedrun       # those whose names start with these
    BENCH_QUICK=1 python tools/bench.py        # smaller runs: printed only, results/ untouched

Each script records its headline figures with `mlcourse.core.record` (into `$MLCOURSE_RECORD`). A full run (not
BENCH_QUICK) writes results/bench/<script>.json with the commit, date, machine, wall time and peak memory, as
`make course FULL=1` does for a lesson; `python tools/results_table.py` turns them into README's benchmark table.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/"tools"))
from run_course import machine, commit   # noqa: E402  (what a figure was measured on, as for the lessons)


def quick() -> bool: return os.environ.get("BENCH_QUICK", "0") not in ("0", "", "false")


def run_script(script: Path, rec: Path):
    "Run one benchmark with `$MLCOURSE_RECORD` set; returns (exit status, seconds, peak resident memory in KiB)."
    env = dict(os.environ, MLCOURSE_RECORD=str(rec), MPLBACKEND="Agg")
    t0 = time.time()
    p = subprocess.Popen([sys.executable, str(script)], env=env)
    if not hasattr(os, "wait4"): return p.wait(), time.time() - t0, None   # Windows: no peak memory
    _, status, usage = os.wait4(p.pid, 0)
    kib = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)   # bytes on macOS, KiB on Linux
    return os.waitstatus_to_exitcode(status), time.time() - t0, kib


def write_results(script: Path, secs, figs, rss_kib, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    try: rel = script.resolve().relative_to(ROOT).as_posix()
    except ValueError: rel = script.name
    res = {"script": rel, "mode": "full", "commit": commit(("mlcourse", "tests/bench")), "date": f"{datetime.now():%Y-%m-%d %H:%M}",
           "machine": machine(), "wall_s": round(secs, 1), "peak_rss_mib": round(rss_kib / 1024) if rss_kib else None,
           "figures": [{k: f[k] for k in ("name", "value", "shown", "std", "seeds") if k in f} for f in figs]}
    (folder/f"{script.stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("only", nargs="*", help="run only benchmarks whose names start with these")
    ap.add_argument("--scripts", default=ROOT/"tests"/"bench", type=Path, help="folder of bench_*.py scripts")
    ap.add_argument("--results", default=ROOT/"results"/"bench", type=Path, help="where a full run writes its figures")
    a = ap.parse_args()
    scripts = sorted(p for p in a.scripts.glob("bench_*.py")
                     if not a.only or any(p.stem.startswith(o) or p.stem.startswith("bench_" + o) for o in a.only))
    if not scripts: sys.exit(f"make bench: no benchmark in {a.scripts} matches {a.only}: try one of "
                             f"{sorted(p.stem for p in a.scripts.glob('bench_*.py'))}")
    mode = "quick (BENCH_QUICK=1: printed only)" if quick() else "full (figures go to results/bench/)"
    print(f"make bench: {len(scripts)} benchmarks, {mode}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    failed, t_all = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for script in scripts:
            print(f"== {script.name}", flush=True)
            rec = Path(tmp)/f"{script.stem}.jsonl"
            rc, secs, rss = run_script(script, rec)
            figs = [json.loads(l) for l in rec.read_text().splitlines()] if rec.exists() else []
            if rc != 0:
                failed.append(script.name); print(f"   FAILED ({script.name} exited with {rc}); results/ untouched")
                continue
            line = f"   {script.name}: {secs:.0f} s, peak memory {rss / 1024 if rss else float('nan'):.0f} MiB, {len(figs)} figures"
            if not quick():
                write_results(script, secs, figs, rss, a.results)
                line += f", written to {a.results.name}/{script.stem}.json"
            print(line, flush=True)
    print(f"make bench: {time.time() - t_all:.0f} s in all" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if not quick() and not failed: print("now: python tools/results_table.py, and commit results/bench/ with README.md")
    sys.exit(1 if failed else 0)


if __name__ == "__main__": main()
