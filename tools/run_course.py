#!/usr/bin/env python3
"""`make course`: execute every course notebook in teaching order, each in a fresh process, and write the
executed notebooks plus a one-page summary (notebook, seconds, headline figures) to a git-ignored folder.

    python tools/run_course.py            # quick mode without a GPU, full mode with one
    python tools/run_course.py --full     # full mode (FULL=1 make course)
    python tools/run_course.py --quick    # quick mode even on a GPU machine
    python tools/run_course.py 03 06      # only these lessons (12 is lesson 12 alone; 12a names 12a; 1 runs 10-19)
    python tools/run_course.py --budget 60 09   # name the lessons over 60 s (default 90 s, or $MLCOURSE_BUDGET_S)

Each lesson's quick mode should finish within the budget (90 s on 2 CPU cores, run alone): the runner prints
every lesson's seconds and its slowest cell, and names the lessons over the budget at the end and in summary.md
(a benchmark figure, not a failure).
"""
import argparse, json, os, re, subprocess, sys, time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/"nbs"
FLAG = re.compile(r"^#\|\s*(slow|gpu)\b", re.M)
BUDGET_S = 90  # seconds a lesson's quick mode may take on 2 CPU cores


def run_one(src, dest, skip):
    "Execute notebook `src` in this process and write it with outputs to `dest`, and each cell's seconds to `dest`.cells.json; skip cells flagged in `skip`."
    from execnb.shell import CaptureShell
    cells, t0 = [], [0.0]
    def _skip(cell):
        if cell.cell_type != "code": return True
        if "nbdev_export(" in cell.source: return True
        if any(f in skip for f in FLAG.findall(cell.source)): return True
        t0[0] = time.time(); return False
    def _timed(cell):
        first = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith("#|")), "")
        cells.append({"cell": cell.idx_, "seconds": round(time.time() - t0[0], 2), "source": first[:70]})
    dest = Path(dest).resolve()
    os.chdir(Path(src).parent)
    sh = CaptureShell(src)
    try: sh.execute(src, dest, exc_stop=True, preproc=_skip, postproc=_timed)
    finally:
        dest.with_suffix(".cells.json").write_text(json.dumps(cells))
        import resource   # peak resident memory of this process (the notebook's kernel), KiB on Linux
        dest.with_suffix(".rss").write_text(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
    if sh.exc:
        print(sh.prettytb(fname=src), file=sys.stderr)
        return 1
    return 0


def pick(prefix):
    "The notebooks a name prefix means: those numbered exactly `prefix` (12 is 12_..., not 12a_...), else those starting with it."
    every = sorted(NBS.glob("*.ipynb"))
    return [p for p in every if p.stem.split("_")[0] == prefix] or [p for p in every if p.name.startswith(prefix)]


def budget_default():
    "The time budget from $MLCOURSE_BUDGET_S, else `BUDGET_S`."
    v = os.environ.get("MLCOURSE_BUDGET_S", str(BUDGET_S))
    try: return float(v)
    except ValueError: sys.exit(f"make course: MLCOURSE_BUDGET_S={v!r} is not a number of seconds: set it to e.g. 90, or unset it")


def load() -> float:
    "The 1-minute load average (0 where the system has none): busy cores inflate every lesson's time."
    try: return os.getloadavg()[0]
    except (AttributeError, OSError): return 0.0


def machine() -> dict:
    "What a full-mode figure was measured on."
    import platform, torch
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform()}


def commit(paths=("nbs", "mlcourse")) -> str:
    "The commit the run was made at, '+dirty' when `paths` (what the run executes) had uncommitted changes."
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", *paths) else "")


def write_results(nb, secs, figs, rss_kib, folder):
    "results/<notebook>.json: a full-mode run's figures with the commit, date, machine, wall time and peak memory."
    folder.mkdir(parents=True, exist_ok=True)
    res = {"notebook": nb.name, "mode": "full", "commit": commit(), "date": f"{datetime.now():%Y-%m-%d %H:%M}",
           "machine": machine(), "wall_s": round(secs, 1), "peak_rss_mib": round(rss_kib / 1024) if rss_kib else None,
           "figures": [{k: f[k] for k in ("name", "value", "shown", "std", "seeds") if k in f} for f in figs]}
    (folder/f"{nb.stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def has_gpu():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception: return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("only", nargs="*", help="run only notebooks whose names start with these (or these .ipynb paths)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--full", action="store_true"); g.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None, help="output folder (default: _out/course-<time>)")
    ap.add_argument("--budget", type=float, default=budget_default(),
                    help=f"seconds a lesson may take before it is named as over budget (default {BUDGET_S}, or $MLCOURSE_BUDGET_S)")
    ap.add_argument("--one", nargs=3, metavar=("SRC", "DEST", "SKIP"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one: sys.exit(run_one(a.one[0], a.one[1], a.one[2].split(",")))

    gpu = has_gpu()
    quick = a.quick or not (a.full or gpu)
    skip = ["slow", "gpu"] if quick else ([] if gpu else ["gpu"])
    out = Path(a.out or ROOT/"_out"/f"course-{datetime.now():%Y%m%d-%H%M%S}").resolve()  # notebooks run in nbs/
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(o).resolve() for o in a.only if o.endswith(".ipynb")]
    for p in paths:
        if not p.is_file(): sys.exit(f"make course: no notebook {p}: pass an existing .ipynb path, or a name prefix such as 09")
    names = tuple(o for o in a.only if not o.endswith(".ipynb"))
    nbs = sorted({p for o in names for p in pick(o)} if names else (NBS.glob("*.ipynb") if not a.only else []))
    nbs += paths
    mode = "quick" if quick else "full"
    print(f"make course: {len(nbs)} notebooks, {mode} mode, {'a GPU' if gpu else 'no GPU'}; skipping cells flagged {skip or 'nothing'}")
    print(f"output: {out}")
    rows, failed, slow, t_all, load0 = [], [], [], time.time(), load()
    for nb in nbs:
        rec = out/f"{nb.stem}.figures.jsonl"
        rec.unlink(missing_ok=True)
        env = dict(os.environ, MLCOURSE_QUICK="1" if quick else "0", MLCOURSE_RECORD=str(rec), MPLBACKEND="Agg")
        t0 = time.time()
        r = subprocess.run([sys.executable, __file__, "--one", str(nb), str(out/nb.name), ",".join(skip) or "-"], env=env)
        secs = time.time() - t0
        figs = [json.loads(l) for l in rec.read_text().splitlines()] if rec.exists() else []
        ok = r.returncode == 0
        if not ok: failed.append(nb.name)
        rss = out/f"{nb.stem}.rss"
        rss = int(rss.read_text()) if rss.exists() else None
        if ok and not quick:   # quick mode never touches results/
            res = write_results(nb, secs, figs, rss, Path(os.environ.get("MLCOURSE_RESULTS", ROOT/"results")))
            print(f"      results/{nb.stem}.json: {len(figs)} figures, peak memory {res['peak_rss_mib']} MiB")
        over = quick and secs > a.budget   # the budget is for quick mode
        if over: slow.append(f"{nb.name} ({secs:.0f} s)")
        cells = out/f"{nb.stem}.cells.json"
        top = max(json.loads(cells.read_text()), key=lambda c: c["seconds"], default=None) if cells.exists() else None
        top = f"cell {top['cell']} `{top['source']}` {top['seconds']:.0f} s" if top else ""
        rows.append((nb.name, secs, ok, figs, top))
        print(f"  {'ok ' if ok else 'FAILED'} {nb.name:<38} {secs:7.1f} s{'  OVER BUDGET' if over else ''}  "
              + "; ".join(f"{f['name']} {f['shown']}" for f in figs))
        if top: print(f"      slowest: {top}")
    lines = [f"# Course run, {mode} mode", "",
             f"{datetime.now():%Y-%m-%d %H:%M}, {'GPU' if gpu else 'CPU'}, {os.cpu_count()} CPUs, total {time.time()-t_all:.0f} s, "
             f"load average {load0:.1f} at the start and {load():.1f} at the end", "",
             "| notebook | seconds | status | slowest cell | headline figures |", "|---|---:|---|---|---|"]
    for name, secs, ok, figs, top in rows:
        lines.append(f"| {name} | {secs:.1f} | {'ok' if ok else '**failed**'} | {top.replace('|', '/')} | "
                     + "; ".join(f"{f['name']}: {f['shown']}" for f in figs) + " |")
    over = (f"over the {a.budget:g} s budget: {', '.join(slow)}" if slow
            else f"every lesson within the {a.budget:g} s budget" if quick else "no time budget in full mode")
    lines += ["", f"Time budget ({a.budget:g} s a lesson in quick mode, on 2 CPU cores): {over}."]
    (out/"summary.md").write_text("\n".join(lines) + "\n")
    print(f"\n{over}" + (f" (a benchmark figure, load average {load():.1f}: time them alone, then shrink their "
                           "quick-mode sizes)" if slow else ""))
    print(f"summary: {out/'summary.md'}  (executed notebooks in {out})")
    if failed: sys.exit(f"make course: {len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
