#!/usr/bin/env python3
"""Convert between a course notebook and a plain-text 'cell script', for editing notebooks in a text editor.

    python tools/nb.py to-py   nbs/00_whole_game.ipynb  /tmp/00_whole_game.py
    python tools/nb.py from-py /tmp/00_whole_game.py    nbs/00_whole_game.ipynb
    python tools/nb.py meta    nbs/*.ipynb        # give notebooks the metadata JupyterLab writes (NB_META)

Cell script format (jupytext's "percent" format): a line `# %%` starts a code cell, a line `# %% [markdown]`
starts a markdown cell whose lines are commented with "# " (a cell whose lines are not all commented is taken
as is). Outputs are dropped when writing a notebook; its notebook-level metadata is kept (NB_META for a new one).
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


def to_cells(text):
    "Split a cell script into (kind, source) pairs."
    cells, kind, buf = [], None, []
    for line in text.splitlines():
        if line.strip() in ("# %%", "# %% [markdown]"):
            if kind is not None: cells.append((kind, "\n".join(buf).strip("\n")))
            kind, buf = ("markdown" if "markdown" in line else "code"), []
        else:
            if kind is None: kind = "code"
            buf.append(line)
    if kind is not None: cells.append((kind, "\n".join(buf).strip("\n")))
    return [c for c in cells if c[1].strip()]


def _uncomment(s):
    lines = s.split("\n")
    if all(l.startswith("# ") or l.rstrip() == "#" or not l.strip() for l in lines):
        return "\n".join(l[2:] if l.startswith("# ") else "" if l.rstrip() == "#" else l for l in lines)
    return s


def _src(s): 
    lines = s.split("\n")
    return [l + "\n" for l in lines[:-1]] + [lines[-1]]


def from_py(src, dest):
    cells = []
    for i, (kind, s) in enumerate(to_cells(Path(src).read_text())):
        if kind == "markdown": s = _uncomment(s)
        cid = hashlib.sha1(f"{i}:{s}".encode()).hexdigest()[:8]  # stable ids keep the exported module stable
        c = {"cell_type": kind, "id": cid, "metadata": {}, "source": _src(s)}
        if kind == "code": c.update(execution_count=None, outputs=[])
        cells.append(c)
    meta = json.loads(Path(dest).read_text()).get("metadata", NB_META) if Path(dest).exists() else NB_META
    nb = {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    _write(nb, dest)


def _write(nb, dest):  # as nbdev writes notebooks
    Path(dest).write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n")


def set_meta(*paths):
    "Give each notebook NB_META as its notebook-level metadata (a quick read-modify-write; cells untouched)."
    for p in paths:
        nb = json.loads(Path(p).read_text())
        if nb.get("metadata") != NB_META: nb["metadata"] = NB_META; _write(nb, p)


def to_py(src, dest):
    nb = json.loads(Path(src).read_text())
    out = []
    for c in nb["cells"]:
        out.append("# %% [markdown]" if c["cell_type"] == "markdown" else "# %%")
        s = "".join(c["source"])
        out.append("\n".join(("# " + l).rstrip() for l in s.split("\n")) if c["cell_type"] == "markdown" else s)
        out.append("")
    Path(dest).write_text("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "meta": set_meta(*sys.argv[2:]); sys.exit()
    if len(sys.argv) != 4 or sys.argv[1] not in ("to-py", "from-py"): sys.exit(__doc__)
    (to_py if sys.argv[1] == "to-py" else from_py)(sys.argv[2], sys.argv[3])
