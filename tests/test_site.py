"`make site` (tools/site.py): executed notebooks become static pages with navigation, an index, embedded figures."
import base64, importlib.util, io, json, os, re, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_site", ROOT/"tools"/"site.py")  # not `import site`: the
site = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(site)          # standard library has one


def png():
    "A small real PNG (a matplotlib figure), base64 as notebooks store it."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20); ax.plot([0, 1], [1, 0])
    buf = io.BytesIO(); fig.savefig(buf, format="png"); plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def cid(src): return f"c{abs(hash(src)) % 10**8}"
def code(src, *outputs):
    return {"cell_type": "code", "execution_count": None, "id": cid(src), "metadata": {}, "outputs": list(outputs),
            "source": src}
def md(src): return {"cell_type": "markdown", "id": cid(src), "metadata": {}, "source": src}
def stdout(text): return {"output_type": "stream", "name": "stdout", "text": text}
def nbjson(*cells): return json.dumps({"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/x.ipynb)")


@pytest.fixture
def course(tmp_path):
    "Two tiny notebooks in nbs/ and their executed copies in out/run1/ (quick mode), newer than the sources."
    nbs, run = tmp_path/"nbs", tmp_path/"out"/"run1"
    nbs.mkdir(); run.mkdir(parents=True)
    fig = png()
    a = [md("# Alpha lesson\n> What alpha teaches."), md(BADGE),
         code("#| hide\nprint('SECRET INSTALL CELL')"),
         code("#| export\ndef double(x): return 2 * x", ),
         code("#|echo: false\nprint('only the output')", stdout("visible output\n")),
         md("On to [the next lesson](02_beta.ipynb#Part-two) and [its start](02_beta.ipynb)."),
         code("plot_it()", {"output_type": "display_data", "metadata": {},
                            "data": {"image/png": fig, "text/plain": "<Figure size 20x20>"}}),
         code("for xb in track(train_dl): pass",
              {"output_type": "display_data", "metadata": {}, "data": {
                  "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
                  "text/plain": "HBox(children=(FloatProgress(value=0.0),))"}},
              {"output_type": "display_data", "metadata": {}, "data": {
                  "application/javascript": "alert('hi')", "text/plain": "<IPython.core.display.Javascript object>"}}),
         md("## Exercises\n1. Change `double` to triple. ![a sketch](sketch.png)"),
         code("#| solution\ntriple = lambda x: 3 * x\ncheck_answer('exercise 1', triple(2), quick=(6, 6))",
              stdout("exercise 1: 6\n")),
         code("#| hide\nfrom nbdev import nbdev_export; nbdev_export()")]
    b = [md("# Beta lesson\n> What beta teaches."), md("## Part two"),
         code("#| slow\ntrain_for_an_hour()"), code("1 + 1", {"output_type": "execute_result", "execution_count": 1,
                                                                  "metadata": {}, "data": {"text/plain": "2"}})]
    (nbs/"sketch.png").write_bytes(base64.b64decode(fig))
    for name, cells in (("01_alpha.ipynb", a), ("02_beta.ipynb", b)):
        src = [dict(c, outputs=[]) if c["cell_type"] == "code" else c for c in cells]
        (nbs/name).write_text(nbjson(*src))
        (run/name).write_text(nbjson(*cells))
    (run/"summary.md").write_text("# Course run, quick mode\n\n2026-01-02 03:04, CPU, 2 CPUs, total 9 s\n\n"
                                  "| notebook | seconds | status |\n|---|---:|---|\n| 01_alpha.ipynb | 1.0 | ok |\n"
                                  "| 02_beta.ipynb | 1.0 | ok |\n")
    old = time.time() - 100
    for p in nbs.glob("*.ipynb"): os.utime(p, (old, old))
    return dict(nbs=nbs, out=tmp_path/"out", site=tmp_path/"_site", fig=fig)


def test_pages_navigation_index_and_figures(course):
    manifest = site.build(course["nbs"], course["out"], course["site"], run=False)
    s = course["site"]
    assert [p["page"] for p in manifest] == ["index.html", "01_alpha.html", "02_beta.html"]
    index, alpha, beta = [(s/p).read_text() for p in ("index.html", "01_alpha.html", "02_beta.html")]
    pager = lambda page: re.findall(r'<a class="(prev|home|next)" href="([^"]+)"', page)
    assert pager(alpha)[:3] == [("prev", "index.html"), ("home", "index.html"), ("next", "02_beta.html")]
    assert pager(beta)[:2] == [("prev", "01_alpha.html"), ("home", "index.html")] and 'class="next" href' not in beta
    assert ("next", "01_alpha.html") in pager(index)
    # the index lists the lessons in order with their titles and summaries
    assert index.index('href="01_alpha.html">01 · Alpha lesson') < index.index('href="02_beta.html">02 · Beta lesson')
    assert "What alpha teaches." in index and "What beta teaches." in index
    # hidden cells are out, directive lines stripped, echo: false shows the output only
    for page in (index, alpha, beta):
        assert "SECRET INSTALL CELL" not in page and "nbdev_export" not in page and "#|" not in page
    assert "def</span><span class=\"w\"> </span><span class=\"nf\">double" in alpha
    assert "visible output" in alpha and "only the output" not in alpha
    # links between notebooks point at pages; the Colab badge is a text link (nothing loads from the internet)
    assert 'href="02_beta.html#Part-two"' in alpha and 'href="02_beta.html"' in alpha and 'ipynb"' not in alpha.replace(
        "colab.research.google.com/x.ipynb", "")
    assert 'id="Part-two"' in beta
    assert "colab-badge.svg" not in alpha and ">Open In Colab</span></a>" in alpha
    # the figure is embedded; the exercises are there; a skipped slow cell says why it has no output
    assert alpha.count(f'src="data:image/png;base64,{course["fig"]}') == 2  # the output, and a picture in the prose
    assert 'id="Exercises"' in alpha and "Change <code>double</code> to triple." in alpha
    # an exercise's solution is on the page, folded under "Solution", with its output
    sol = re.search(r'<details class="solution"><summary>Solution</summary>(.*?)</details>', alpha, re.S)
    assert sol and "triple" in sol.group(1) and "exercise 1: 6" in sol.group(1) and "#|" not in sol.group(1)
    assert alpha.count('<details class="solution">') == 1
    assert "HBox(children" not in alpha and "alert(" not in alpha and "Javascript object" not in alpha
    assert "Not run in quick mode" in beta and "train_for_an_hour" in beta
    # which run each page shows; one local stylesheet and no scripts
    assert "quick-mode</strong> run on CPU" in alpha and "_out/run1" in alpha.replace("<code>", "").replace("</code>", "")
    for page in (index, alpha, beta):
        assert "<script" not in page and not re.search(r'(src|href)="https?://[^"]*\.(js|css)', page)
        assert '<link rel="stylesheet" href="style.css">' in page
    assert ".highlight" in (s/"style.css").read_text()


def test_full_mode_copy_preferred_stale_copies_rerun(course):
    nbs, out = course["nbs"], course["out"]
    srcs = sorted(nbs.glob("*.ipynb"))
    full = out/"run2"; full.mkdir()
    (full/"summary.md").write_text("# Course run, full mode\n\n2026-01-02 05:06, GPU, 8 CPUs, total 99 s\n\n"
                                   "| notebook | seconds | status |\n|---|---:|---|\n| 01_alpha.ipynb | 1.0 | ok |\n"
                                   "| 02_beta.ipynb | 1.0 | **failed** |\n")
    for p in srcs: (full/p.name).write_text((out/"run1"/p.name).read_text())
    old = time.time() - 50  # older than run1's copies, newer than the sources: full mode still wins
    for p in full.glob("*.ipynb"): os.utime(p, (old, old))
    chosen, todo = site.plan(srcs, out)
    assert not todo
    assert chosen["01_alpha.ipynb"]["run"] == "run2" and chosen["01_alpha.ipynb"]["mode"] == "full"
    assert chosen["02_beta.ipynb"]["run"] == "run1"  # its full-mode run failed
    manifest = site.build(nbs, out, course["site"], run=False)
    assert "full-mode</strong> run on GPU" in (course["site"]/"01_alpha.html").read_text()
    assert [p.get("mode") for p in manifest] == [None, "full", "quick"]

    (nbs/"02_beta.ipynb").touch()  # edited after every run: stale
    chosen, todo = site.plan(srcs, out)
    assert [p.name for p in todo] == ["02_beta.ipynb"] and "01_alpha.ipynb" in chosen
    with pytest.raises(site.SiteError, match="02_beta.ipynb"):
        site.build(nbs, out, course["site"], run=False)
    assert (course["site"]/"01_alpha.html").exists()  # a failed build leaves the last site in place


def test_missing_notebooks_are_run_first_and_only_those(course):
    nbs, out = course["nbs"], course["out"]
    (nbs/"03_gamma.ipynb").write_text(nbjson(md("# Gamma"), code("print('gamma ran', 6 * 7)")))
    before = set(out.iterdir())
    site.build(nbs, out, course["site"])
    new = set(out.iterdir()) - before
    assert len(new) == 1, new
    run = new.pop()
    assert sorted(p.name for p in run.glob("*.ipynb")) == ["03_gamma.ipynb"]
    assert "# Course run, quick mode" in (run/"summary.md").read_text()
    gamma = (course["site"]/"03_gamma.html").read_text()
    assert "gamma ran 42" in gamma and 'href="02_beta.html"' in gamma


def test_directives():
    assert site.directives("#| export\n#|  echo: false\n\nx = 1\n#| not a directive here") == (
        {"export": "", "echo": "false"}, "x = 1\n#| not a directive here")
    assert site.directives("# |default_exp core\nimport x")[0] == {"default_exp": "core"}
