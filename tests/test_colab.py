"""The Colab install cell and the Open-in-Colab badges: made from settings.ini, kept in line by tools/colab.py,
inert off Colab, and working when run as Colab runs it (a fresh environment with torch but no mlcourse)."""
import importlib.metadata, importlib.util, json, os, re, shutil, subprocess, sys, sysconfig, types
from configparser import ConfigParser
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT/"tools"/"colab.py"
_spec = importlib.util.spec_from_file_location("colab_tool", TOOL)
colab = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(colab)
NOTEBOOKS = sorted((ROOT/"nbs").glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if p.name != "index.ipynb"]


def ini(root=ROOT):
    cfg = ConfigParser(delimiters=["="]); cfg.read(Path(root)/"settings.ini"); return cfg["DEFAULT"]
def cells(p): return json.loads(Path(p).read_text())["cells"]
def src(c): return "".join(c["source"])
def title_index(cs): return next(i for i, c in enumerate(cs) if c["cell_type"] == "markdown" and src(c).startswith("# "))
def expected_url(s, name): return f"https://colab.research.google.com/github/{s['user']}/{s['repo']}/blob/{s['branch']}/nbs/{name}"
def tool(*args, root):
    return subprocess.run([sys.executable, str(TOOL), "--root", str(root), *args], capture_output=True, text=True, timeout=60)


# ---- the real notebooks and README agree with settings.ini -------------------------------------------------------

def test_install_cell_is_short_hidden_and_names_the_repository():
    s, cell = ini(), colab.install_cell(colab.settings())
    lines = cell.split("\n")
    assert lines[0] == "#| hide" and lines[1].startswith("# ") and len(lines) <= 15, cell
    assert f'"git+https://github.com/{s["user"]}/{s["repo"]}@{s["branch"]}"' in cell
    assert '"-c", pins' in cell and "MLCOURSE_PIP_SPEC" in cell
    compile(cell, "<install cell>", "exec")


@pytest.mark.parametrize("p", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_with_the_install_cell_and_shows_its_badge(p):
    s, cs = ini(), cells(p)
    assert src(cs[0]) == colab.install_cell(colab.settings()), f"{p.name}: run 'make colab' (the first cell is not the install cell)"
    nxt = src(cs[1])
    assert p.name == "index.ipynb" or nxt.startswith("#| default_exp") or "env_report()" in nxt, \
        f"{p.name}: after the install cell comes '#| default_exp' (library) or the env_report() cell (lesson)"
    badge = src(cs[title_index(cs) + 1])
    assert badge == f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({expected_url(s, p.name)})", \
        f"{p.name}: the cell after the title must be its Colab badge: run 'make colab'"
    assert colab.notebook_problems(p, colab.settings()) == []


def test_readme_and_index_list_every_lesson_with_its_badge():
    s = ini()
    readme = (ROOT/"README.md").read_text()
    index = "\n".join(src(c) for c in cells(ROOT/"nbs"/"index.ipynb") if c["cell_type"] == "markdown")
    for where, text in (("README.md", readme), ("nbs/index.ipynb", index)):
        rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| (\d\d\w?) \|.*$", text, re.M)}
        for p in LESSONS:
            row = rows.get(p.name.split("_")[0])
            assert row and f"({expected_url(s, p.name)})" in row and "colab-badge.svg" in row, f"{where}: no badge row for {p.name}"
    assert colab.readme_problems(ROOT, colab.settings()) == []


# ---- tools/colab.py on a copy of the tree --------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    "A copy of nbs/, README.md and settings.ini, synced with the current settings."
    shutil.copytree(ROOT/"nbs", tmp_path/"nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "_*"))
    for f in ("README.md", "settings.ini"): shutil.copy(ROOT/f, tmp_path/f)
    assert tool("sync", root=tmp_path).returncode == 0
    return tmp_path


def set_ini(root, **kw):
    p = Path(root)/"settings.ini"; text = p.read_text()
    for k, v in kw.items(): text = re.sub(rf"^{k} = .*$", f"{k} = {v}", text, flags=re.M)
    p.write_text(text)


def snapshot(root): return {p.relative_to(root): p.read_bytes() for p in [Path(root)/"README.md", *sorted((Path(root)/"nbs").glob("*.ipynb"))]}


def test_a_fork_fails_check_until_sync(tree):
    before = snapshot(tree)
    assert tool("check", root=tree).returncode == 0
    set_ini(tree, user="a-teacher", branch="spring")
    r = tool("check", root=tree)
    assert r.returncode == 1, r.stdout
    for p in NOTEBOOKS: assert f"nbs/{p.name}: the first cell" in r.stdout and f"nbs/{p.name}: the cell after the title" in r.stdout
    assert re.search(r"^README\.md:\d+: row 00: no Colab badge linking to https://colab\.research\.google\.com/github/a-teacher/", r.stdout, re.M)
    assert tool("sync", root=tree).returncode == 0
    r = tool("check", root=tree)
    assert r.returncode == 0, r.stdout
    for p in NOTEBOOKS:
        cs = cells(tree/"nbs"/p.name)
        assert '"git+https://github.com/a-teacher/mlcourse@spring"' in src(cs[0])
        assert f"(https://colab.research.google.com/github/a-teacher/mlcourse/blob/spring/nbs/{p.name})" in src(cs[title_index(cs) + 1])
    readme = (tree/"README.md").read_text()
    assert "colab.research.google.com/github/a-teacher/mlcourse/blob/spring/nbs/11_" in readme
    assert "colab.research.google.com/github/mlcourse/" not in readme
    s = ini()
    set_ini(tree, user=s["user"], branch=s["branch"])   # back again: every file as it was, byte for byte
    assert tool("sync", root=tree).returncode == 0
    assert snapshot(tree) == before


def test_check_names_the_notebook_that_disagrees_and_sync_fixes_only_it(tree):
    lesson, lib = tree/"nbs"/"02_data_wrangling.ipynb", tree/"nbs"/"00_whole_game.ipynb"
    nb = json.loads(lesson.read_text())   # an old install cell, by hand
    nb["cells"][0]["source"] = ['#| hide\n', 'import sys\n', 'if "google.colab" in sys.modules:\n',
                                '    import subprocess; subprocess.run(["pip", "install", "git+https://github.com/x/y"])']
    lesson.write_text(json.dumps(nb, indent=1))
    nb = json.loads(lib.read_text())   # a library notebook from before: no install cell, no badge
    nb["cells"] = [c for c in nb["cells"] if not (colab.is_install_cell(c) or colab.is_badge_cell(c))]
    lib.write_text(json.dumps(nb, indent=1))
    r = tool("check", root=tree)
    assert r.returncode == 1
    named = {re.match(r"nbs/(\S+?):", l).group(1) for l in r.stdout.splitlines() if l.startswith("nbs/")}
    assert named == {"00_whole_game.ipynb", "02_data_wrangling.ipynb"}, r.stdout
    others = {k: v for k, v in snapshot(tree).items() if k.name not in named}
    r = tool("sync", str(lesson), str(lib), root=tree)
    assert r.returncode == 0 and "README.md" not in r.stdout
    assert tool("check", root=tree).returncode == 0
    assert {k: v for k, v in snapshot(tree).items() if k.name not in named} == others
    cs = cells(lib)
    assert src(cs[1]).startswith("#| default_exp core") and src(cs[title_index(cs) + 1]).startswith("[![Open In Colab]")
    assert sum(map(colab.is_install_cell, cells(lesson))) == 1


# ---- the cell itself ---------------------------------------------------------------------------------------------

class Called(Exception): pass


def run_cell(monkeypatch, on_colab, find=True, spec=None):
    "Run the install cell in this process; returns the commands it ran (subprocess.run is replaced)."
    calls = []
    def fake_run(cmd, **kw): calls.append(cmd); return subprocess.CompletedProcess(cmd, 0)
    def refuse(*a, **kw): raise Called(f"the install cell ran {a} off Colab")
    monkeypatch.setattr(subprocess, "run", fake_run if on_colab else refuse)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    if not find:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlcourse" else real(name, *a))
    if spec is None: monkeypatch.delenv("MLCOURSE_PIP_SPEC", raising=False)
    else: monkeypatch.setenv("MLCOURSE_PIP_SPEC", spec)
    exec(compile(colab.install_cell(colab.settings()), "<install cell>", "exec"), {})
    return calls


def test_cell_does_nothing_off_colab(monkeypatch, tmp_path):
    (tmp_path/"google").mkdir()   # a `google` namespace package without `colab`, as protobuf leaves one
    monkeypatch.syspath_prepend(str(tmp_path))
    for m in [m for m in sys.modules if m == "google" or m.startswith("google.")]: monkeypatch.delitem(sys.modules, m)
    before = set(sys.modules)
    assert run_cell(monkeypatch, on_colab=False, find=False, spec=str(tmp_path)) == []
    assert "google.colab" not in sys.modules
    assert not {m for m in set(sys.modules) - before if m == "pip" or m.startswith("pip.")}


def test_cell_on_colab_installs_with_torch_pinned(monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    s = ini()
    assert run_cell(monkeypatch, on_colab=True) == [], "mlcourse imports and no MLCOURSE_PIP_SPEC: a re-run installs nothing"
    [cmd] = run_cell(monkeypatch, on_colab=True, find=False)
    pins = tmp_path/"mlcourse-pins.txt"
    assert cmd == [sys.executable, "-m", "pip", "install", "-q", "-c", str(pins), f"git+https://github.com/{s['user']}/{s['repo']}@{s['branch']}"]
    v = importlib.metadata.version
    assert pins.read_text().split() == [f"torch=={v('torch')}", f"torchvision=={v('torchvision')}"]
    [cmd] = run_cell(monkeypatch, on_colab=True, spec="git+https://github.com/fork/mlcourse@v2")
    assert cmd[-3:] == ["-c", str(pins), "git+https://github.com/fork/mlcourse@v2"]


def test_cell_as_colab_runs_it(tmp_path):
    """A fresh venv holding the packages of this one (torch, torchvision, IPython, setuptools, pip) through symlinks
    but not mlcourse; a fake `google.colab`; the cell run by IPython installs mlcourse from a copy of this checkout,
    offline, leaves torch as it was, and `from mlcourse.train import fit` works right after, in the same session."""
    site = Path(sysconfig.get_paths()["purelib"])
    venv, links, fake, tmp = tmp_path/"venv", tmp_path/"links", tmp_path/"fake", tmp_path/"tmp"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    vpy = venv/"bin"/"python"
    vsite = Path(subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                capture_output=True, text=True, check=True).stdout.strip())
    links.mkdir()   # outside the venv: pip never uninstalls from there
    for e in site.iterdir():
        if e.name.startswith(("mlcourse", "__editable__", "__pycache__")) or e.suffix == ".pth": continue
        (links/e.name).symlink_to(e)
    (vsite/"links.pth").write_text(f"{links}\n")
    (fake/"google"/"colab").mkdir(parents=True); (fake/"google"/"colab"/"__init__.py").write_text("")
    src_copy = tmp_path/"checkout"   # pip builds in the source tree: a copy keeps the checkout untouched
    shutil.copytree(ROOT/"mlcourse", src_copy/"mlcourse", ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("setup.py", "pyproject.toml", "settings.ini", "README.md"): shutil.copy(ROOT/f, src_copy/f)
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_", "MLCOURSE_PIP"))}
    env.update(PYTHONPATH=str(fake), PYTHONNOUSERSITE="1", MLCOURSE_PIP_SPEC=str(src_copy), TMPDIR=str(tmp),
               IPYTHONDIR=str(tmp_path/"ipython"), MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_BUILD_ISOLATION="0")   # pip's spelling of --no-build-isolation: setuptools comes from the venv
    def venv_run(*args):
        return subprocess.run([str(vpy), *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    def torch_where(): return venv_run("-c", "import importlib.metadata as m, torch; print(m.version('torch'), torch.__file__)").stdout.split()

    listed = {d["name"].lower() for d in json.loads(venv_run("-m", "pip", "list", "--format=json").stdout)}
    assert {"torch", "torchvision", "ipython", "setuptools"} <= listed and "mlcourse" not in listed, listed
    torch_before = torch_where()
    assert torch_before[0] == importlib.metadata.version("torch") and torch_before[1].startswith(str(links))

    cell = colab.install_cell(colab.settings())
    (tmp_path/"colab.ipy").write_text(cell + "\nfrom mlcourse.train import fit\nimport mlcourse\nprint('mlcourse at', mlcourse.__file__)\n")
    r = venv_run("-m", "IPython", "--quick", "--no-banner", str(tmp_path/"colab.ipy"))
    assert r.returncode == 0 and f"mlcourse at {vsite}/mlcourse/" in r.stdout, r.stdout + r.stderr

    show = venv_run("-m", "pip", "show", "mlcourse")
    assert show.returncode == 0 and f"Location: {vsite}" in show.stdout, show.stdout + show.stderr
    assert torch_where() == torch_before, "the install changed torch"
    assert not (vsite/"torch").exists() and not list(vsite.glob("torch-*"))
    v = importlib.metadata.version
    assert (tmp/"mlcourse-pins.txt").read_text().split() == [f"torch=={v('torch')}", f"torchvision=={v('torchvision')}"]
