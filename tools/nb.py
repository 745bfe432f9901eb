#!/usr/bin/env python3
"""Edit a course notebook as text: jupytext's "percent" script and back, keeping the notebook's metadata.

    .venv/bin/python tools/nb.py to-py   nbs/00_whole_game.ipynb  /tmp/00_whole_game.py
    .venv/bin/python tools/nb.py from-py /tmp/00_whole_game.py    nbs/00_whole_game.ipynb
    .venv/bin/python tools/nb.py meta    nbs/*.ipynb        # give notebooks the metadata JupyterLab writes (NB_META)

The script is jupytext's percent format (`# %%` starts a code cell, `# %% [markdown]` a markdown cell whose
lines are commented with "# "), written and read by jupytext itself, with no YAML header and no cell
metadata. Writing a notebook drops outputs and keeps its notebook-level metadata (NB_META for a new one);
cell ids are derived from position and source, so the exported module and `nbdev_clean` stay stable.
"""
import hashlib, json, sys
from pathlib import Path

# The notebook metadata exactly as JupyterLab writes it when it starts the venv's kernel (tools/setup.sh installs it
# as "python3", display name "python3": nbdev_clean sets display_name to the name). A notebook whose metadata differs,
# language_info included, is marked modified the moment it opens. settings.ini keeps language_info through nbdev_clean.
# "version" is the venv's Python: when that changes, change it here and run `python tools/nb.py meta nbs/*.ipynb`.
NB_META = {
    "kernelspec": {"display_name": "python3", "language": "python", "name": "python3"},
    "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                      "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                      "pygments_lexer": "ipython3", "version": "3.11.7"}}
_PLAIN = {"notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}   # no header, no cell metadata


def _jupytext():
    try: import jupytext
    except ImportError: sys.exit("tools/nb.py needs jupytext: run it with the course venv, `.venv/bin/python tools/nb.py ...`")
    return jupytext


def _write(nb, dest):  # as nbdev writes notebooks
    Path(dest).write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")


def _src(s):
    lines = s.split("\n")
    return [l + "\n" for l in lines[:-1]] + [lines[-1]]


def to_py(src, dest):
    jt = _jupytext()
    nb = jt.read(src)
    nb.metadata = {"jupytext": dict(_PLAIN)}
    for c in nb.cells: c.metadata = {}
    jt.write(nb, dest, fmt="py:percent")


def from_py(src, dest):
    jt = _jupytext()
    old = json.loads(Path(dest).read_text()) if Path(dest).exists() else {}
    ids = {}   # an unchanged cell keeps its id (cells with the same source, in order)
    for c in old.get("cells", []): ids.setdefault("".join(c["source"]).strip("\n"), []).append(c.get("id"))
    cells, used = [], set()
    for i, c in enumerate(c for c in jt.read(src, fmt="py:percent").cells if c.source.strip()):
        kind, s = ("markdown" if c.cell_type == "markdown" else "code"), c.source.strip("\n")
        cid = ids[s].pop(0) if ids.get(s) else None
        if not cid or cid in used: cid = hashlib.sha1(f"{i}:{s}".encode()).hexdigest()[:8]  # stable: the module stays stable
        used.add(cid)
        cell = {"cell_type": kind, "id": cid, "metadata": {}, "source": _src(s)}
        if kind == "code": cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    _write({"cells": cells, "metadata": old.get("metadata", NB_META), "nbformat": 4, "nbformat_minor": 5}, dest)


def set_meta(*paths):
    "Give each notebook NB_META as its notebook-level metadata (a quick read-modify-write; cells untouched)."
    for p in paths:
        nb = json.loads(Path(p).read_text())
        if nb.get("metadata") != NB_META: nb["metadata"] = NB_META; _write(nb, p)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "meta": set_meta(*sys.argv[2:]); sys.exit()
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-py", "from-py"): sys.exit(__doc__)
    (to_py if sys.argv[1] == "to-py" else from_py)(sys.argv[2], sys.argv[3])
