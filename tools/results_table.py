#!/usr/bin/env python3
"""README's "Measured here" lesson table, generated from results/*.json (the full-mode runs' own files).

    python tools/results_table.py           # rewrite the block between the markers in README.md
    python tools/results_table.py --check   # exit 1 when README.md's block differs from results/

`make course FULL=1 NB=...` writes results/<notebook>.json; then run this (or `make results`) and commit both.
"""
import argparse, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start (tools/results_table.py writes this block from results/) -->", "<!-- results:end -->"


def short_cpu(m):
    cpu = (m.get("cpu") or "?").replace("(R)", "").replace("(TM)", "").replace(" Processor", "")
    return f"{cpu}, {m.get('cores', '?')} cores" + (f", {m['gpu']}" if m.get("gpu") else "")


def table(folder=ROOT/"results") -> str:
    rows = ["| lesson | figure | value | run |", "|---|---|---|---|"]
    for p in sorted(Path(folder).glob("*.json")):
        r = json.loads(p.read_text())
        mem = f", peak {r['peak_rss_mib'] / 1024:.1f} GiB" if r.get("peak_rss_mib") else ""
        run = f"{r['date'][:10]}, {r['wall_s'] / 60:.1f} min{mem}, {short_cpu(r['machine'])}, commit {r['commit'][:7]}"
        for f in r["figures"]:
            rows.append(f"| {Path(r['notebook']).stem} | {f['name']} | {f['shown']} | {run} |")
    if len(rows) == 2: rows.append("| (no full-mode run recorded yet) | | | |")
    return "\n".join(rows)


def block(folder=ROOT/"results") -> str:
    return f"{START}\n{table(folder)}\n{END}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--readme", default=ROOT/"README.md", type=Path)
    ap.add_argument("--results", default=ROOT/"results", type=Path)
    a = ap.parse_args()
    text = a.readme.read_text()
    if START not in text or END not in text: sys.exit(f"{a.readme} has no results block (the lines {START} ... {END})")
    i, j = text.index(START), text.index(END) + len(END)
    new = text[:i] + block(a.results) + text[j:]
    if a.check:
        if new != text: sys.exit("README.md's measured table differs from results/: run python tools/results_table.py and commit")
        print("README.md's measured table agrees with results/")
    else:
        a.readme.write_text(new); print(f"wrote the results block of {a.readme}")


if __name__ == "__main__": main()
