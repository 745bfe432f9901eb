"""nbs/15_from_the_projects.ipynb, the page that lists the projects' items: every section it names is a heading of
its notebook, every figure it names is one that notebook records, and is in its results file when there is one."""
import json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT/"nbs"/"15_from_the_projects.ipynb"
KEYS = {"project", "item", "theirs", "nb", "section", "figures", "note"}


def cells(p): return json.loads(Path(p).read_text())["cells"]
def src(c): return "".join(c["source"])


def page_items(page=PAGE):
    "The page's records, from its data cells (those that do `items += [...]`), run on their own."
    ns = {"items": []}
    data = [src(c) for c in cells(page) if c["cell_type"] == "code" and re.search(r"^items \+= \[", src(c), re.M)]
    assert data, f"{page.name}: no cell does `items += [...]`"
    for s in data: exec(compile(s, str(page), "exec"), ns)
    return ns["items"]


def headings(nb):
    "The text of every H2 and H3 heading of nbs/<nb>.ipynb."
    return {m.group(1).strip() for c in cells(ROOT/"nbs"/f"{nb}.ipynb") if c["cell_type"] == "markdown"
            for m in re.finditer(r"^#{2,3} (.+)$", src(c), re.M)}


def recorded(nb):
    """Regexes for the figure names notebook `nb` records: first arguments of `record(...)`, `record_seeds(...)`,
    `check_answer(...)` and of a lesson's `report(...)` helper, which records its first argument over seeds (f-strings:
    {...} matches anything)."""
    code = "\n".join(src(c) for c in cells(ROOT/"nbs"/f"{nb}.ipynb") if c["cell_type"] == "code")
    out = []
    for f, _, name in re.findall(r"\b(?:record|record_seeds|report|check_answer)\(\s*(f?)([\"'])(.*?)\2", code):
        out.append(".+".join(map(re.escape, re.split(r"\{[^{}]*\}", name))) if f else re.escape(name))
    return out


def load_results(nb, folder):
    p = Path(folder)/f"{nb}.json"
    return json.loads(p.read_text()) if p.exists() else None


def problems(items, results=ROOT/"results"):
    "What on the page names something that is not there, one message each."
    out = []
    for it in items:
        if set(it) != KEYS: out.append(f"{it.get('item')}: keys {sorted(set(it))}, not {sorted(KEYS)}"); continue
        if it["nb"] is None:
            if it["section"] or it["figures"] or not it["note"]: out.append(f"{it['item']}: not reproduced, so no section or figures, and a note")
            continue
        if not (ROOT/"nbs"/f"{it['nb']}.ipynb").exists(): out.append(f"{it['item']}: no notebook nbs/{it['nb']}.ipynb"); continue
        if it["section"] not in headings(it["nb"]): out.append(f"{it['item']}: no H2/H3 heading {it['section']!r} in {it['nb']}.ipynb")
        names = recorded(it["nb"])
        for n in it["figures"] or []:
            if not any(re.fullmatch(p, n) for p in names): out.append(f"{it['item']}: {it['nb']} records no figure named {n!r}")
        res = load_results(it["nb"], results)
        if res:
            have = {f["name"] for f in res["figures"]}
            out += [f"{it['item']}: results/{it['nb']}.json has no figure {n!r}" for n in it["figures"] or [] if n not in have]
    return out


def test_the_page_names_only_sections_and_figures_that_exist():
    items = page_items()
    assert len(items) >= 50 and len({(i["project"], i["item"]) for i in items}) == len(items)
    assert problems(items) == []


def test_the_page_types_no_status_or_measured_value():
    "Status and measured figures are computed from results/: no record carries them, and no cell writes one by hand."
    assert all(set(i) == KEYS for i in page_items())
    code = "\n".join(src(c) for c in cells(PAGE) if c["cell_type"] == "code")
    assert "load_results(" in code and not re.search(r"[\"']status[\"']\s*:\s*[\"']", code)


def test_the_check_catches_a_wrong_heading_a_wrong_name_and_a_missing_figure(tmp_path):
    good = dict(project="p", item="x", theirs="", nb="13_pitfalls", section="1. Softmax before `CrossEntropyLoss`",
                figures=["softmax: test accuracy, logits"], note="")
    assert problems([good], tmp_path) == []
    assert "no H2/H3 heading" in problems([dict(good, section="Softmax before CrossEntropyLoss")], tmp_path)[0]
    assert "records no figure" in problems([dict(good, nb="12_ensembles_pseudo_labels", section="The student")], tmp_path)[0]
    (tmp_path/"13_pitfalls.json").write_text(json.dumps({"figures": [{"name": "softmax: test accuracy, softmax first"}]}))
    assert problems([good], tmp_path) == ["x: results/13_pitfalls.json has no figure 'softmax: test accuracy, logits'"]
    assert "not reproduced" in problems([dict(good, nb=None, section=None, figures=None, note="")], tmp_path)[0]


@pytest.mark.parametrize("name, nb, ok", [("recipe: time to 94.0% (s)", "14_train_fast", True),
                                          ("collage test macro F1, from scratch (1000 labelled images)", "06_transfer_learning", True),
                                          ("collage test macro F1 from scratch", "06_transfer_learning", False)])
def test_figure_names_match_the_lessons_f_strings(name, nb, ok):
    assert any(re.fullmatch(p, name) for p in recorded(nb)) == ok
