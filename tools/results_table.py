#!/usr/bin/env python3
"""README's "Measured here" tables, generated from results/ (the runs' own files): the lessons' full-mode figures
(results/*.json) and the benchmarks' (results/bench/*.json).

    python tools/results_table.py           # rewrite both blocks between their markers in README.md
    python tools/results_table.py --check   # exit 1 when README.md's blocks differ from results/

`make course FULL=1 NB=...` writes results/<notebook>.json and `make bench` results/bench/<script>.json; then run
this (or `make results`) and commit them together.
"""
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start (tools/results_table.py writes this block from results/) -->", "<!-- results:end -->"
BENCH_START = "<!-- bench:start (tools/results_table.py writes this block from results/bench/) -->"
BENCH_END = "<!-- bench:end -->"


def short_cpu(m):
    cpu = (m.get("cpu") or "?").replace("(R)", "").replace("(TM)", "").replace(" Processor", "")
    return f"{cpu}, {m.get('cores', '?')} cores" + (f", {m['gpu']}" if m.get("gpu") else "")


def _run(r):
    mem = f", peak {r['peak_rss_mib'] / 1024:.1f} GiB" if r.get("peak_rss_mib") else ""
    return f"{r['date'][:10]}, {r['wall_s'] / 60:.1f} min{mem}, {short_cpu(r['machine'])}, commit {r['commit'][:7]}"


def _rows(folder, head, key, empty) -> str:
    "A markdown table of every figure in `folder`/*.json; `key` names the file's field for the first column."
    rows = [f"| {head} | figure | value | run |", "|---|---|---|---|"]
    for p in sorted(Path(folder).glob("*.json")):
        r = json.loads(p.read_text())
        rows += [f"| {Path(r[key]).stem} | {f['name']} | {f['shown']} | {_run(r)} |" for f in r["figures"]]
    if len(rows) == 2: rows.append(f"| ({empty}) | | | |")
    return "\n".join(rows)


def table(folder=ROOT/"results") -> str:
    return _rows(folder, "lesson", "notebook", "no full-mode run recorded yet")


def bench_table(folder=ROOT/"results"/"bench") -> str:
    return _rows(folder, "benchmark", "script", "no full `make bench` run recorded yet")


def block(folder=ROOT/"results") -> str:
    return f"{START}\n{table(folder)}\n{END}"


def bench_block(folder=ROOT/"results"/"bench") -> str:
    return f"{BENCH_START}\n{bench_table(folder)}\n{BENCH_END}"


def _replace(text, start, end, new, readme):
    if start not in text or end not in text: sys.exit(f"{readme} has no block {start} ... {end}")
    i, j = text.index(start), text.index(end) + len(end)
    return text[:i] + new + text[j:]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--readme", default=ROOT/"README.md", type=Path)
    ap.add_argument("--results", default=ROOT/"results", type=Path)
    a = ap.parse_args()
    text = a.readme.read_text()
    new = _replace(text, START, END, block(a.results), a.readme)
    new = _replace(new, BENCH_START, BENCH_END, bench_block(a.results/"bench"), a.readme)
    if a.check:
        if new != text: sys.exit("README.md's measured tables differ from results/: run python tools/results_table.py and commit")
        print("README.md's measured tables agree with results/")
    else:
        a.readme.write_text(new); print(f"wrote the results blocks of {a.readme}")


if __name__ == "__main__": main()
