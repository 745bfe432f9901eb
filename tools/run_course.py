#!/usr/bin/env python3
"""`make course`: execute every course notebook in teaching order, each in a fresh process, and write the
executed notebooks plus a one-page summary (notebook, seconds, headline figures) to a git-ignored folder.

    python tools/run_course.py            # quick mode without a GPU, full mode with one
    python tools/run_course.py --full     # full mode (FULL=1 make course)
    python tools/run_course.py --quick    # quick mode even on a GPU machine
    python tools/run_course.py 03 06      # only notebooks whose names start with these
"""
import argparse, json, os, re, subprocess, sys, time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/"nbs"
FLAG = re.compile(r"^#\|\s*(slow|gpu)\b", re.M)


def run_one(src, dest, skip):
    "Execute notebook `src` in this process and write it with outputs to `dest`; skip cells flagged in `skip`."
    from execnb.shell import CaptureShell
    def _skip(cell):
        if cell.cell_type != "code": return True
        if "nbdev_export(" in cell.source: return True
        return any(f in skip for f in FLAG.findall(cell.source))
    os.chdir(Path(src).parent)
    sh = CaptureShell(src)
    sh.execute(src, dest, exc_stop=True, preproc=_skip)
    if sh.exc:
        print(sh.prettytb(fname=src), file=sys.stderr)
        return 1
    return 0


def has_gpu():
    try:
        import torch
        return torch.cuda.is_available()
    except Exception: return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("only", nargs="*", help="run only notebooks whose names start with these")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--full", action="store_true"); g.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None, help="output folder (default: _out/course-<time>)")
    ap.add_argument("--one", nargs=3, metavar=("SRC", "DEST", "SKIP"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one: sys.exit(run_one(a.one[0], a.one[1], a.one[2].split(",")))

    gpu = has_gpu()
    quick = a.quick or not (a.full or gpu)
    skip = ["slow", "gpu"] if quick else ([] if gpu else ["gpu"])
    out = Path(a.out or ROOT/"_out"/f"course-{datetime.now():%Y%m%d-%H%M%S}")
    out.mkdir(parents=True, exist_ok=True)
    nbs = sorted(p for p in NBS.glob("*.ipynb") if not a.only or p.name.startswith(tuple(a.only)))
    mode = "quick" if quick else "full"
    print(f"make course: {len(nbs)} notebooks, {mode} mode, {'a GPU' if gpu else 'no GPU'}; skipping cells flagged {skip or 'nothing'}")
    print(f"output: {out}")
    rows, failed, t_all = [], [], time.time()
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
        rows.append((nb.name, secs, ok, figs))
        print(f"  {'ok ' if ok else 'FAILED'} {nb.name:<38} {secs:7.1f} s  " + "; ".join(f"{f['name']} {f['shown']}" for f in figs))
    lines = [f"# Course run, {mode} mode", "",
             f"{datetime.now():%Y-%m-%d %H:%M}, {'GPU' if gpu else 'CPU'}, {os.cpu_count()} CPUs, total {time.time()-t_all:.0f} s", "",
             "| notebook | seconds | status | headline figures |", "|---|---:|---|---|"]
    for name, secs, ok, figs in rows:
        lines.append(f"| {name} | {secs:.1f} | {'ok' if ok else '**failed**'} | " + "; ".join(f"{f['name']}: {f['shown']}" for f in figs) + " |")
    (out/"summary.md").write_text("\n".join(lines) + "\n")
    print(f"\nsummary: {out/'summary.md'}  (executed notebooks in {out})")
    if failed: sys.exit(f"make course: {len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
