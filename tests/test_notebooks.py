"The course notebooks: clean, small, structured as the style guide asks, modules imported in order."
import configparser, json, re
from pathlib import Path
import importlib.util
import pytest

NBS = Path(__file__).resolve().parent.parent/"nbs"
NOTEBOOKS = sorted(NBS.glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if p.name != "index.ipynb"]


_spec = importlib.util.spec_from_file_location("colab_tool", NBS.parent/"tools"/"colab.py")
colab = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(colab)   # the install cell's generator


def cells(p): return json.loads(p.read_text())["cells"]
def src(c): return "".join(c["source"])
def exported_module(p):
    m = re.search(r"^#\|\s*default_exp\s+(\S+)", "\n".join(src(c) for c in cells(p)), re.M)
    return m and m.group(1)


def test_there_is_a_course():
    assert (NBS/"index.ipynb").exists() and (NBS/"00_whole_game.ipynb").exists()


@pytest.mark.parametrize("p", NOTEBOOKS, ids=lambda p: p.name)
def test_clean_and_small(p):
    from nbdev.clean import clean_nb
    from execnb.nbio import nb2str
    text = p.read_text()
    assert len(text.encode()) < 500_000, f"{p.name} is {len(text.encode())//1000} KB: shrink its outputs"
    nb = json.loads(text)
    cfg = configparser.ConfigParser(); cfg.read(NBS.parent/"settings.ini")   # the keys nbdev_clean keeps (language_info)
    clean_nb(nb, allowed_metadata_keys=cfg["DEFAULT"].get("allowed_metadata_keys", "").split())
    assert nb2str(nb) == text, f"{p.name} is not clean: run 'make nbs' (nbdev_clean) and commit"
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in o.get("data", {}), f"{p.name} keeps widget output"


@pytest.mark.parametrize("p", LESSONS, ids=lambda p: p.name)
def test_structure(p):
    cs = cells(p)
    md = [src(c) for c in cs if c["cell_type"] == "markdown"]
    assert any(re.match(r"^# \S", m) for m in md), f"{p.name}: no H1 title"
    assert re.search(r"^##+ Exercises", "\n".join(md), re.M), f"{p.name}: every notebook ends with exercises"
    assert src(cs[0]) == colab.install_cell(colab.settings()), \
        f"{p.name}: the first cell must be the Colab install cell made from settings.ini: run 'make colab'"
    if not exported_module(p):   # a lesson: the environment report right after the install cell
        assert any("env_report()" in src(c) for c in cs[:4]), f"{p.name}: call env_report() at the top"


def exporter():
    "module name -> the notebook that exports it (`#| default_exp`)."
    out = {}
    for q in NOTEBOOKS:
        if exported_module(q): out[exported_module(q)] = q
    return out


def test_each_module_has_one_notebook():
    mods = [exported_module(q) for q in NOTEBOOKS if exported_module(q)]
    assert len(mods) == len(set(mods)), f"two notebooks export the same module: {sorted(mods)}"
    lib = {p.stem for p in (NBS.parent/"mlcourse").glob("*.py") if not p.stem.startswith("_")}
    assert lib == set(mods), f"modules without a notebook, or notebooks without a module: {lib ^ set(mods)}"


@pytest.mark.parametrize("p", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_uses_a_later_one(p):
    "A student reading in file order never meets a name that a later notebook exports."
    mods = exporter()
    text = "\n".join(src(c) for c in cells(p) if c["cell_type"] == "code")
    for used in set(re.findall(r"(?:from|import)\s+mlcourse\.(\w+)", text)):
        assert used in mods, f"{p.name} imports mlcourse.{used}, which no notebook exports"
        assert mods[used].name <= p.name, f"{p.name} imports mlcourse.{used}, exported later by {mods[used].name}"


_nbtool_spec = importlib.util.spec_from_file_location("nbtool", NBS.parent/"tools"/"nb.py")
nbtool = importlib.util.module_from_spec(_nbtool_spec); _nbtool_spec.loader.exec_module(nbtool)   # tools/nb.py

@pytest.mark.parametrize("p", NOTEBOOKS, ids=lambda p: p.name)
def test_text_round_trip_is_exact(p, tmp_path):
    "tools/nb.py (jupytext's percent format): notebook -> script -> notebook gives back the same file."
    script, copy = tmp_path/"nb.py", tmp_path/p.name
    copy.write_bytes(p.read_bytes())
    nbtool.to_py(copy, script)
    assert script.read_text().startswith("# %%"), "no jupytext header expected"
    nbtool.from_py(script, copy)
    norm = lambda nb: dict(nb, cells=[dict(c, source=src(c).strip("\n")) for c in nb["cells"]])  # edge newlines dropped
    assert norm(json.loads(copy.read_text())) == norm(json.loads(p.read_text()))


def test_text_edits_reach_the_notebook(tmp_path):
    p = NBS/"00_whole_game.ipynb"
    script, copy = tmp_path/"nb.py", tmp_path/p.name
    copy.write_bytes(p.read_bytes())
    nbtool.to_py(copy, script)
    script.write_text(script.read_text() + "\n# %% [markdown]\n# ## A new section\n\n# %%\nx = 1 + 1\n")
    nbtool.from_py(script, copy)
    new = json.loads(copy.read_text())
    assert [src(c) for c in new["cells"][-2:]] == ["## A new section", "x = 1 + 1"]
    assert [c["cell_type"] for c in new["cells"][-2:]] == ["markdown", "code"]
    assert new["metadata"] == json.loads(p.read_text())["metadata"]
    assert len({c["id"] for c in new["cells"]}) == len(new["cells"])


def exercise_parts(p):
    "(numbered exercise texts, sources of the `#| solution` cells) of a notebook's Exercises section."
    cs, i = cells(p), None
    for k, c in enumerate(cs):
        if c["cell_type"] == "markdown" and re.search(r"^##+ Exercises", src(c), re.M): i = k
    if i is None: return [], []
    text = src(cs[i]).split("### Going further")[0]
    items = [" ".join(t.split()) for t in re.split(r"^\d+\.\s", text, flags=re.M)[1:]]
    sols = [src(c) for c in cs[i + 1:] if c["cell_type"] == "code" and re.match(r"#\|\s*solution\b", src(c))]
    return items, sols

@pytest.mark.parametrize("p", LESSONS, ids=lambda p: p.name)
def test_exercises_state_their_range_and_have_solutions(p):
    "Every lesson's numbered exercises say where a correct answer lands, and a `#| solution` cell checks each one."
    items, sols = exercise_parts(p)
    assert items, f"{p.name}: no numbered exercises"
    for n, t in enumerate(items, 1):
        assert "correct answer" in t, f"{p.name}: exercise {n} does not say where a correct answer lands"
    answered = {int(n) for s in sols for n in re.findall(r"check_answer\(\s*[\"']exercise (\d+)", s)}
    assert answered == set(range(1, len(items) + 1)), f"{p.name}: solutions check exercises {sorted(answered)} of {len(items)}"
    assert all("check_answer(" in s for s in sols), f"{p.name}: every solution cell ends with check_answer"


def test_the_exercise_check_catches_a_missing_range_or_solution(tmp_path):
    def nb(md, *sols):
        cs = [{"cell_type": "markdown", "source": md}] + [{"cell_type": "code", "source": s} for s in sols]
        (tmp_path/"x.ipynb").write_text(json.dumps({"cells": cs})); return tmp_path/"x.ipynb"
    check = test_exercises_state_their_range_and_have_solutions
    good = nb("## Exercises\n1. Count. (A correct answer:\n   4.)\n2. Sum. (A correct answer: 6.)\n### Going further\n- open",
              "#| solution\ncheck_answer('exercise 1: count', 4, quick=(4, 4))", "#| solution\ncheck_answer(\"exercise 2\", 6, (6, 6))")
    check(good)
    with pytest.raises(AssertionError, match="exercise 2 does not say"):
        check(nb("## Exercises\n1. A correct answer: 1.\n2. No range.", "#| solution\ncheck_answer('exercise 1', 1, (1, 1))"))
    with pytest.raises(AssertionError, match=r"check exercises \[1\] of 2"):
        check(nb("## Exercises\n1. A correct answer: 1.\n2. A correct answer: 2.", "#| solution\ncheck_answer('exercise 1', 1, (1, 1))"))
