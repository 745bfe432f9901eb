#!/usr/bin/env python3
"""Keep the Colab install cell and the Open-in-Colab badges in line with settings.ini (user, repo, branch).

    tools/colab.py sync  [FILE...]   rewrite them from settings.ini (after forking the course, edit settings.ini first)
    tools/colab.py check [FILE...]   list every notebook and README line that disagrees; exit 1 if any does
    --root DIR                       work on another checkout (default: the one this file is in)

FILE is a notebook or README.md; with none, they cover every notebook in nbs/ (index included) and README.md.
What they keep in line:
- every notebook's first cell is the install cell below (`#| hide`; it does something only on Colab);
- right after the notebook's H1 title cell comes a markdown cell holding only its Open-in-Colab badge;
- the course tables (`| # | notebook | ...` in nbs/index.ipynb and README.md) have a Colab column with each
  lesson's badge, and list every notebook; every Colab link anywhere in them points at this repository.
"""
import json, re, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INSTALL_CELL = '''#| hide
# On Google Colab only: pip-install mlcourse (or $MLCOURSE_PIP_SPEC), keeping Colab's own torch and torchvision.
import os, sys, importlib.util, importlib.metadata
try: import google.colab; on_colab = True
except ImportError: on_colab = False
pip_spec = os.environ.get("MLCOURSE_PIP_SPEC")
if on_colab and (pip_spec or importlib.util.find_spec("mlcourse") is None):
    import subprocess, tempfile
    pins = os.path.join(tempfile.gettempdir(), "mlcourse-pins.txt")   # pip may not change these versions
    with open(pins, "w") as f:
        for p in ("torch", "torchvision"): print(f"{p}=={importlib.metadata.version(p)}", file=f)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", pins,
                    pip_spec or "{git_url}"], check=True)
    importlib.invalidate_caches()'''

BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
# any Colab link to a notebook of any repository: group 1 is the notebook's file name
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/\S+?/nbs/([\w.-]+\.ipynb)")
BADGE_CELL = re.compile(r"\[!\[Open In Colab\]\(" + re.escape(BADGE_SVG) + r"\)\]\(\S+\)")
TABLE_HEAD = re.compile(r"^\|\s*#\s*\|\s*notebook\s*\|")


def settings(root=ROOT):
    "user, repo, branch and nbs_path from settings.ini, read as setup.py reads it."
    cfg = ConfigParser(delimiters=["="])
    if not cfg.read(Path(root)/"settings.ini", encoding="utf-8"):
        sys.exit(f"{Path(root)/'settings.ini'} not found: run this in the course repository or pass --root")
    d = cfg["DEFAULT"]
    missing = [k for k in ("user", "repo", "branch") if not d.get(k, "").strip()]
    if missing: sys.exit(f"settings.ini has no {', '.join(missing)}: set them to your GitHub user, repository and branch")
    return {k: d.get(k, v).strip() for k, v in dict(user="", repo="", branch="", nbs_path="nbs").items()}


def install_cell(cfg):
    "The first cell of every notebook, for the repository in `cfg`."
    return INSTALL_CELL.replace("{git_url}", "git+https://github.com/{user}/{repo}@{branch}".format(**cfg))


def colab_url(cfg, name):
    "Where Colab opens notebook `name` (a file name in nbs/) of the repository in `cfg`."
    return "https://colab.research.google.com/github/{user}/{repo}/blob/{branch}/{nbs_path}/".format(**cfg) + name


def badge(cfg, name):
    "The Open-in-Colab badge of notebook `name`, as markdown."
    return f"[![Open In Colab]({BADGE_SVG})]({colab_url(cfg, name)})"


def src(c): return "".join(c["source"])
def is_install_cell(c): return c["cell_type"] == "code" and "google.colab" in src(c) and "pip" in src(c)
def is_badge_cell(c): return c["cell_type"] == "markdown" and BADGE_CELL.fullmatch(src(c).strip()) is not None
def is_title_cell(c): return c["cell_type"] == "markdown" and src(c).startswith("# ")
def notebooks(nbs): return sorted(p.name for p in Path(nbs).glob("*.ipynb"))


# ---- the course tables (README.md and nbs/index.ipynb): lines in, lines out ------------------------------------

def _cells(line): return [c.strip() for c in line.strip().strip("|").split("|")]
def _row(cells): return "|" + "|".join(cells) + "|" if all(re.fullmatch(r":?-+:?", c) for c in cells) else "| " + " | ".join(cells) + " |"


def _tables(lines):
    "(header index, [row indices]) of each course table in `lines`."
    out = []
    for i, l in enumerate(lines):
        if TABLE_HEAD.match(l):
            j = i + 2   # rows start after the separator line
            while j < len(lines) and lines[j].startswith("|"): j += 1
            out.append((i, list(range(i + 2, j))))
    return out


def _notebook_of(number, names):
    hits = [n for n in names if n.startswith(number + "_")]
    return hits[0] if len(hits) == 1 else None


def fix_lines(lines, cfg, names):
    "`lines` with every Colab link re-pointed at this repository and a Colab column of badges in each course table."
    lines = [COLAB_LINK.sub(lambda m: colab_url(cfg, m.group(1)), l) for l in lines]
    for head, rows in _tables(lines):
        hc = _cells(lines[head])
        if "Colab" not in hc:   # add the column after "notebook"
            k = hc.index("notebook") + 1
            for i in [head, head + 1] + rows:
                cs = _cells(lines[i]); cs.insert(k, "Colab" if i == head else "---" if i == head + 1 else "")
                lines[i] = _row(cs)
        k = _cells(lines[head]).index("Colab")
        for i in rows:
            cs = _cells(lines[i]); name = _notebook_of(cs[0], names)
            if name and len(cs) > k: cs[k] = badge(cfg, name); lines[i] = _row(cs)
    return lines


def line_problems(lines, cfg, names, where):
    "What in `lines` disagrees with settings.ini; `where(i)` names line i in the messages."
    out, tables = [], _tables(lines)
    in_tables = {i for head, rows in tables for i in rows}   # their rows are checked below
    for i, l in enumerate(lines):
        for m in ([] if i in in_tables else COLAB_LINK.finditer(l)):
            if m.group(1) not in names: out.append(f"{where(i)}: a Colab link to {m.group(1)}, which is not in nbs/")
            elif m.group(0) != colab_url(cfg, m.group(1)): out.append(f"{where(i)}: Colab link {m.group(0)} is not {colab_url(cfg, m.group(1))}")
    for head, rows in tables:
        hc = _cells(lines[head])
        if "Colab" not in hc:
            out.append(f"{where(head)}: the course table has no Colab column"); continue
        k, listed = hc.index("Colab"), set()
        for i in rows:
            cs = _cells(lines[i]); name = _notebook_of(cs[0], names)
            if name is None: out.append(f"{where(i)}: row {cs[0]!r} names no single notebook {cs[0]}_*.ipynb in nbs/"); continue
            listed.add(name)
            if len(cs) <= k or cs[k] != badge(cfg, name): out.append(f"{where(i)}: row {cs[0]}: no Colab badge linking to {colab_url(cfg, name)}")
        for name in sorted(set(names) - listed - {"index.ipynb"}): out.append(f"{where(head)}: the course table has no row for {name}")
    return out


# ---- notebooks --------------------------------------------------------------------------------------------------

def _md_lines(c): return src(c).split("\n")


def notebook_problems(path, cfg):
    "What in notebook `path` disagrees with settings.ini, one message each."
    path = Path(path); cs = json.loads(path.read_text(encoding="utf-8"))["cells"]
    names, name = notebooks(path.parent), f"{path.parent.name}/{path.name}"
    out = []
    if not cs or src(cs[0]) != install_cell(cfg): out.append(f"{name}: the first cell is not the install cell made from settings.ini")
    if sum(map(is_install_cell, cs)) > 1: out.append(f"{name}: more than one install cell")
    titles = [i for i, c in enumerate(cs) if is_title_cell(c)]
    if not titles: out.append(f"{name}: no H1 title cell ('# Title') to put the Colab badge after")
    elif titles[0] + 1 >= len(cs) or src(cs[titles[0] + 1]) != badge(cfg, path.name):
        out.append(f"{name}: the cell after the title is not the Colab badge linking to {colab_url(cfg, path.name)}")
    if sum(map(is_badge_cell, cs)) > 1: out.append(f"{name}: more than one Colab badge cell")
    for j, c in enumerate(cs):
        if c["cell_type"] == "markdown" and not is_badge_cell(c):
            out += line_problems(_md_lines(c), cfg, names, lambda i, j=j: f"{name}: cell {j}, line {i + 1}")
    return out


def _new_cell(kind, text, cid):
    c = {"cell_type": kind, "id": cid, "metadata": {}, "source": text.splitlines(keepends=True)}
    if kind == "code": c.update(execution_count=None, outputs=[])
    return c


def sync_notebook(path, cfg):
    "Rewrite the install cell, the badge and the Colab links of notebook `path`; True when it changed."
    path = Path(path); text = path.read_text(encoding="utf-8"); nb = json.loads(text)
    names, cs = notebooks(path.parent), nb["cells"]
    old = [c for c in cs if is_install_cell(c)]
    cs = [c for c in cs if not is_install_cell(c) and not is_badge_cell(c)]
    inst = old[0] if old else _new_cell("code", "", "colab-install")
    inst.update(source=install_cell(cfg).splitlines(keepends=True), execution_count=None, outputs=[])
    cs.insert(0, inst)
    titles = [i for i, c in enumerate(cs) if is_title_cell(c)]
    if not titles: raise SystemExit(f"{path}: no H1 title cell ('# Title'): add one, then sync again")
    cs.insert(titles[0] + 1, _new_cell("markdown", badge(cfg, path.name), "colab-badge"))
    for c in cs:
        if c["cell_type"] == "markdown" and not is_badge_cell(c):
            new = "\n".join(fix_lines(_md_lines(c), cfg, names))
            if new != src(c): c["source"] = new.splitlines(keepends=True)
    nb["cells"] = cs
    new = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"   # as nbdev_clean writes it
    if new == text: return False
    path.write_text(new, encoding="utf-8"); return True


# ---- README.md and the command line -----------------------------------------------------------------------------

def readme_problems(root, cfg):
    lines = (Path(root)/"README.md").read_text(encoding="utf-8").split("\n")
    return line_problems(lines, cfg, notebooks(Path(root)/cfg["nbs_path"]), lambda i: f"README.md:{i + 1}")


def sync_readme(root, cfg):
    p = Path(root)/"README.md"; text = p.read_text(encoding="utf-8")
    new = "\n".join(fix_lines(text.split("\n"), cfg, notebooks(Path(root)/cfg["nbs_path"])))
    if new == text: return False
    p.write_text(new, encoding="utf-8"); return True


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    root = ROOT
    if "--root" in args:
        k = args.index("--root"); root = Path(args[k + 1]).resolve(); del args[k:k + 2]
    if not args or args[0] not in ("sync", "check"): sys.exit(__doc__)
    cmd, paths = args[0], [Path(a).resolve() for a in args[1:]]
    cfg = settings(root)
    for p in paths:
        if not p.exists(): sys.exit(f"{p}: no such file")
        if p.suffix != ".ipynb" and p.name != "README.md": sys.exit(f"{p}: name notebooks (.ipynb) or README.md")
    nbs = [p for p in paths if p.suffix == ".ipynb"] if paths else sorted((root/cfg["nbs_path"]).glob("*.ipynb"))
    readme = any(p.name == "README.md" for p in paths) if paths else True
    if cmd == "sync":
        changed = [p.name for p in nbs if sync_notebook(p, cfg)] + (["README.md"] if readme and sync_readme(root, cfg) else [])
        print(f"synced with {cfg['user']}/{cfg['repo']}@{cfg['branch']}: " + (", ".join(changed) or "nothing to change"))
        return 0
    problems = [m for p in nbs for m in notebook_problems(p, cfg)] + (readme_problems(root, cfg) if readme else [])
    for m in problems: print(m)
    if problems:
        print(f"{len(problems)} disagreement(s) with settings.ini ({cfg['user']}/{cfg['repo']}@{cfg['branch']}): "
              "run 'make colab' (tools/colab.py sync, then nbdev_clean)")
        return 1
    print(f"Colab cells and badges agree with settings.ini ({cfg['user']}/{cfg['repo']}@{cfg['branch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
