#!/usr/bin/env python3
"""`make site`: the executed lessons as a static HTML course in _site/ (open _site/index.html, offline).

    python tools/site.py               # build _site/ from the executed notebooks in _out/
    python tools/site.py --no-run      # build only from what _out/ holds; name what is missing or stale

The pages come from the executed notebooks that `make course` (tools/run_course.py) writes to _out/<run>/, a folder
with a summary.md that says the run's mode. For each notebook in nbs/ the page shows the newest full-mode copy that
is newer than the notebook, else the newest such quick-mode copy; a notebook with no copy newer than itself is run
first, in quick mode, through tools/run_course.py (only those). Each page says which mode it shows and when it ran.

What a page holds: the notebook as a student reads it (no `#| hide` cells, no nbdev directive lines, figures
embedded as data: URIs, links between notebooks pointing at the .html pages), previous/next links and a link to the
index, and one local stylesheet: nothing is loaded from the internet. The index page is nbs/index.ipynb (its course
map), then a table of the pages with the mode and time of each run. nbconvert's "basic" template renders the cells.
"""
import argparse, base64, html, json, mimetypes, re, shutil, subprocess, sys, time
from configparser import ConfigParser
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^\s*#\s*\|\s*(.*?)\s*$")  # an nbdev/Quarto directive line: `#| export`, `#| echo: false`
TITLE = re.compile(r"^#\s+(.+?)\s*$", re.M)
SUMMARY = re.compile(r"^>\s*(.+?)\s*$", re.M)
MODE = re.compile(r"^# Course run, (quick|full) mode", re.M)
LIVE = ("application/vnd.jupyter.widget-view+json", "application/javascript")  # progress bars, scripts: left out


class SiteError(Exception): pass


def _mtime(p): return Path(p).stat().st_mtime


def runs(out_dir):
    "Every executed notebook under `out_dir`/<run>/ whose run has a summary.md: {name: [copy]}, failed ones left out."
    found = {}
    for summary in sorted(Path(out_dir).glob("*/summary.md")):
        text = summary.read_text(errors="replace")
        m = MODE.search(text)
        if not m: continue
        failed = set(re.findall(r"^\|\s*(\S+\.ipynb)\s*\|[^|]*\|\s*\*\*failed\*\*", text, re.M))
        device = re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d, (\w+)", text, re.M)
        for nb in summary.parent.glob("*.ipynb"):
            if nb.name in failed: continue
            found.setdefault(nb.name, []).append(dict(path=nb, mode=m.group(1), mtime=_mtime(nb),
                                                      device=device.group(1) if device else "", run=summary.parent.name))
    return found


def plan(nbs, out_dir):
    "Which executed copy each notebook's page shows, and which notebooks must be run first: (chosen, todo)."
    copies, chosen, todo = runs(out_dir), {}, []
    for src in nbs:
        fresh = [c for c in copies.get(src.name, []) if c["mtime"] >= _mtime(src)]
        if fresh: chosen[src.name] = max(fresh, key=lambda c: (c["mode"] == "full", c["mtime"]))
        else: todo.append(src)
    return chosen, todo


def run_missing(todo, out_dir):
    "Run the notebooks in `todo` in quick mode through tools/run_course.py, into a new run folder under `out_dir`."
    dest = Path(out_dir)/f"course-{datetime.now():%Y%m%d-%H%M%S}"
    print(f"make site: running {len(todo)} notebook(s) in quick mode first (none newer than it in {out_dir}): "
          + " ".join(p.stem for p in todo), flush=True)
    r = subprocess.run([sys.executable, str(ROOT/"tools"/"run_course.py"), "--quick", "--out", str(dest),
                        *[str(p.resolve()) for p in todo]])
    if r.returncode != 0:
        raise SiteError(f"tools/run_course.py failed (exit {r.returncode}; its summary: {dest/'summary.md'}): fix the "
                        "notebook(s) it names above, then run `make site` again")


def directives(src):
    "The leading directive lines of a code cell's source, as {name: value}, and the source without them."
    lines, found, i = src.split("\n"), {}, 0
    while i < len(lines) and (DIRECTIVE.match(lines[i]) or not lines[i].strip()):
        d = (DIRECTIVE.match(lines[i]) or [None, ""])[1]
        if ":" in d: found[d.partition(":")[0].strip()] = d.partition(":")[2].strip()   # `#| echo: false`
        elif d: found[d.split()[0]] = " ".join(d.split()[1:])                              # `#| default_exp core`
        i += 1
    return found, "\n".join(lines[i:])


NO_INPUT = "site-no-input"  # a tag for cells marked `#| echo: false`: nbconvert's TagRemovePreprocessor hides the code
SOLUTION = "site-solution"  # a tag for cells marked `#| solution`: shown folded, under "Solution"
NOTE = '<p class="note">Not run {why}: this cell is marked <em>{flag}</em>. Run the notebook {how} to see its output.</p>'


def reader_cells(nb, mode, device=""):
    "The cells as a reader sees them: hidden cells and raw cells out, directive lines stripped, scripts and widgets out."
    skipped = {"slow", "gpu"} if mode == "quick" else set() if device == "GPU" else {"gpu"}  # as run_course skips
    import nbformat
    cells = []
    for c in nb.cells:
        if c.cell_type == "raw": continue
        if c.cell_type != "code": cells.append(c); continue
        d, c.source = directives(c.source)
        if "hide" in d or d.get("include") == "false": continue
        if d.get("output") == "false": c.outputs = []
        if d.get("echo") == "false": c.metadata.setdefault("tags", []).append(NO_INPUT)
        if "solution" in d: c.metadata.setdefault("tags", []).append(SOLUTION)
        outs = []
        for o in c.get("outputs", []):
            if any(k in o.get("data", {}) for k in LIVE): continue  # its text form is only a repr
            outs.append(o)
        c.outputs = outs
        if c.source.strip() and d.get("echo") != "false" or c.outputs: cells.append(c)
        flag = next((f for f in ("gpu", "slow") if f in d and f in skipped), None)
        if flag:
            why, how = ("in quick mode", "in full mode") if flag == "slow" else ("without a GPU", "on a GPU")
            cells.append(nbformat.v4.new_markdown_cell(NOTE.format(why=why, flag=flag, how=how)))
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    return nb


def title_of(nb, fallback):
    "The notebook's H1 title and its `>` summary line."
    for c in nb.cells:
        if c.cell_type == "markdown" and (m := TITLE.search(c.source)):
            s = SUMMARY.search(c.source[m.end():])
            return m.group(1).replace("`", ""), s.group(1) if s else ""
    return fallback, ""


def render(nb):
    "The cells as HTML (nbconvert, basic template: no page frame, no scripts, figures as data: URIs)."
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    cfg = Config({"TagRemovePreprocessor": {"enabled": True, "remove_input_tags": {NO_INPUT}}})
    ex = HTMLExporter(config=cfg, template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = ex.from_notebook_node(nb)
    return body


def repo_url():
    "The repository's web address and branch from settings.ini, for links to files outside nbs/."
    cfg = ConfigParser(); cfg.read(ROOT/"settings.ini")
    d = cfg.defaults()
    return d.get("git_url", "").rstrip("/"), d.get("branch", "main")


def fix_links(body, pages, nbs_dir, name=""):
    "Links to notebooks point at their pages; pictures become data: URIs, or text where they are on the internet."
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(body, "html.parser")
    git, branch = repo_url()
    for a in soup.find_all("a", href=True):
        u = urlsplit(a["href"])
        if u.scheme or u.netloc or not u.path: continue
        target = Path(u.path)
        if target.suffix == ".ipynb" and target.name in pages:
            a["href"] = target.with_suffix(".html").name + (f"#{u.fragment}" if u.fragment else "")
        elif target.suffix == ".ipynb":
            print(f"make site: warning: {name} links to {u.path}, which is not a notebook in {nbs_dir}", file=sys.stderr)
        elif git and (nbs_dir/u.path).resolve().is_relative_to(ROOT) and (nbs_dir/u.path).exists():
            a["href"] = f"{git}/blob/{branch}/{(nbs_dir/u.path).resolve().relative_to(ROOT).as_posix()}"
    for img in soup.find_all("img", src=True):
        u = urlsplit(img["src"])
        if u.scheme in ("http", "https"):  # e.g. the Colab badge: a text link (the site loads nothing remote)
            span = soup.new_tag("span", attrs={"class": "badge"}); span.string = img.get("alt") or "image"
            img.replace_with(span)
        elif not u.scheme and (nbs_dir/u.path).is_file():  # a picture next to the notebook: embedded
            kind = mimetypes.guess_type(u.path)[0] or "application/octet-stream"
            img["src"] = f"data:{kind};base64,{base64.b64encode((nbs_dir/u.path).read_bytes()).decode()}"
    for cell in soup.select(f"div.celltag_{SOLUTION}"):   # an exercise's solution: folded until the reader opens it
        details = soup.new_tag("details", attrs={"class": "solution"})
        summary = soup.new_tag("summary"); summary.string = "Solution"
        cell.wrap(details); details.insert(0, summary)
    for s in soup.find_all(["script", "link"]): s.decompose()  # nothing executes or loads: figures are data: URIs
    return str(soup)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
</head>
<body>
<header class="site"><a href="index.html">mlcourse</a><span class="sep">·</span>{label}</header>
{nav}
<p class="run-info">{info}</p>
<main>
{body}
</main>
{nav}
<footer>Built by <code>make site</code> (tools/site.py) on {built} from the executed notebooks in
<code>_out/</code>.</footer>
</body>
</html>
"""


def nav(prev, nxt):
    "Previous / index / next links: each a (href, title) or None."
    prev = f'<a class="prev" href="{prev[0]}">← {html.escape(prev[1])}</a>' if prev else '<span class="prev"></span>'
    nxt = f'<a class="next" href="{nxt[0]}">{html.escape(nxt[1])} →</a>' if nxt else '<span class="next"></span>'
    return f'<nav class="pager">{prev}<a class="home" href="index.html">Course index</a>{nxt}</nav>'


def ran(copy):
    "The line that says which run the page shows."
    when = datetime.fromtimestamp(copy["mtime"]).strftime("%Y-%m-%d %H:%M")
    dev = f" on {copy['device']}" if copy["device"] else ""
    other = (" Full mode (the sizes students run) may give other numbers: <code>FULL=1 make course</code> runs it."
             if copy["mode"] == "quick" else "")
    return (f"Outputs from a <strong>{copy['mode']}-mode</strong> run{dev}, {when} "
            f"(<code>_out/{html.escape(copy['run'])}</code>).{other}")


def build(nbs_dir, out_dir, site_dir, run=True):
    "Write the site to `site_dir`: a page per notebook in `nbs_dir`, the index first. Returns the pages' records."
    import nbformat
    nbs_dir, out_dir, site_dir = Path(nbs_dir).resolve(), Path(out_dir).resolve(), Path(site_dir).resolve()
    srcs = sorted(nbs_dir.glob("*.ipynb"), key=lambda p: (p.stem != "index", p.name))
    if not srcs: raise SiteError(f"no notebooks in {nbs_dir}: run make site from the repository root")
    chosen, todo = plan(srcs, out_dir)
    if todo and run:
        run_missing(todo, out_dir)
        chosen, todo = plan(srcs, out_dir)
    if todo:
        raise SiteError(f"no executed copy newer than the notebook in {out_dir} for: {', '.join(p.name for p in todo)}; "
                        "run `make course` (or `make site` without --no-run) first")
    records = []
    for src in srcs:
        copy = chosen[src.name]
        nb = reader_cells(nbformat.read(copy["path"], as_version=4), copy["mode"], copy["device"])
        title, summary = title_of(nb, src.stem)
        num = re.match(r"^(\d+[a-z]?)_", src.name)
        records.append(dict(source=src.name, page=f"{src.stem}.html", title=title, summary=summary, nb=nb, copy=copy,
                            label=f"{num.group(1)} · {title}" if num else title))
    if records[0]["source"] != "index.ipynb":  # no index notebook: the index is the table of pages alone
        records.insert(0, dict(source=None, page="index.html", title="mlcourse", summary="", nb=None, copy=None))
    records[0]["label"] = "Course index"
    pages = {r["source"] for r in records}
    tmp = site_dir.with_name(site_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir(parents=True)
    (tmp/"style.css").write_text(css())
    built = datetime.now().strftime("%Y-%m-%d %H:%M")
    for i, r in enumerate(records):
        body = fix_links(render(r["nb"]), pages, nbs_dir, r["source"]) if r["nb"] else f"<h1>{r['title']}</h1>"
        if i == 0: body += pages_table(records[1:])
        link = lambda j: (records[j]["page"], records[j]["label"]) if 0 <= j < len(records) else None
        info = ran(r["copy"]) if r["copy"] else "Each page says which run of <code>make course</code> its outputs come from."
        (tmp/r["page"]).write_text(PAGE.format(
            title=html.escape(r["title"] if i == 0 else f"{r['label']} — mlcourse"), label=html.escape(r["label"]),
            nav=nav(link(i - 1), link(i + 1)), info=info, body=body, built=built))
    manifest = [dict(page=r["page"], source=r["source"], title=r["title"]) | (dict(
        executed=str(r["copy"]["path"]), mode=r["copy"]["mode"],
        ran=datetime.fromtimestamp(r["copy"]["mtime"]).isoformat(timespec="seconds")) if r["copy"] else {})
        for r in records]
    (tmp/"pages.json").write_text(json.dumps(manifest, indent=1) + "\n")
    shutil.rmtree(site_dir, ignore_errors=True); tmp.rename(site_dir)
    return manifest


def inline_md(text):
    "A one-line summary's `code`, **bold** and *emphasis* as HTML, the rest escaped."
    t = html.escape(text)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", t)


def pages_table(records):
    "The index's list of pages: title, summary, and which run each shows."
    rows = "".join(
        f'<tr><td><a href="{r["page"]}">{html.escape(r["label"])}</a></td><td>{inline_md(r["summary"])}</td>'
        f'<td>{r["copy"]["mode"]}</td><td class="when">{datetime.fromtimestamp(r["copy"]["mtime"]):%Y-%m-%d %H:%M}</td></tr>'
        for r in records)
    return ('<section class="pages"><h2 id="pages">The pages of this site</h2><p>Each page shows a notebook with the '
            'outputs of one run of <code>make course</code>: quick mode (small sizes, minutes on a laptop) unless a '
            'full-mode run was found.</p><table><thead><tr><th>page</th><th>summary</th><th>mode</th><th>run</th></tr>'
            f'</thead><tbody>{rows}</tbody></table></section>')


def css():
    "The site's one stylesheet: layout, notebook cells, tables, and Pygments' colours for code."
    from pygments.formatters import HtmlFormatter
    return """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f; margin: 0 auto;
       max-width: 60rem; padding: 0 1.2rem 3rem; }
a { color: #0b5cad; }
header.site { padding: .8rem 0; border-bottom: 1px solid #ddd; font-weight: 600; }
header.site .sep { margin: 0 .5rem; color: #999; }
nav.pager { display: grid; grid-template-columns: 1fr auto 1fr; gap: 1rem; margin: .8rem 0; font-size: .95rem; }
nav.pager .next { text-align: right; }
p.run-info { background: #f3f6fa; border-left: 4px solid #6a8fbf; padding: .4rem .8rem; font-size: .9rem; }
footer { margin-top: 2rem; color: #666; font-size: .85rem; }
.cell { margin: .6rem 0; }
.input_area, div.highlight { background: #f7f7f7; border-radius: 4px; }
pre { margin: 0; padding: .5rem .7rem; overflow-x: auto; font: 13.5px/1.45 ui-monospace, Menlo, Consolas, monospace; }
.output_area { padding: .1rem .7rem; }
.output_area pre { padding: .3rem 0; }
.output_stderr { background: #fff4f4; }
.output_area img { max-width: 100%; height: auto; }
.rendered_html table, section.pages table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
.rendered_html th, .rendered_html td, section.pages th, section.pages td { border: 1px solid #ddd; padding: .25rem .5rem;
  vertical-align: top; }
.rendered_html code, section.pages code, p code { background: #f1f1f1; padding: 0 .2rem; border-radius: 3px; }
.rendered_html pre code { background: none; padding: 0; }
.rendered_html blockquote { margin: .5rem 0; padding: .1rem 1rem; border-left: 4px solid #ccc; color: #444; }
.anchor-link { visibility: hidden; margin-left: .3rem; text-decoration: none; }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link { visibility: visible; }
.badge { display: inline-block; font-size: .8rem; padding: 0 .4rem; border: 1px solid #bbb; border-radius: 3px; }
td.when { white-space: nowrap; }
details.solution { border-left: 3px solid #9ab; margin: .4rem 0; padding-left: .5rem; }
details.solution > summary { cursor: pointer; color: #357; font-weight: 600; }
p.note { color: #555; font-size: .9rem; font-style: italic; margin: .2rem .7rem; }
.ansi-red-fg { color: #c4302b; } .ansi-green-fg { color: #2a8a2a; } .ansi-yellow-fg { color: #a07800; }
.ansi-blue-fg { color: #2456b3; } .ansi-cyan-fg { color: #1f8a99; } .ansi-bold { font-weight: bold; }
""" + HtmlFormatter(style="default").get_style_defs(".highlight")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nbs", default=str(ROOT/"nbs"), help="the notebooks (default nbs/)")
    ap.add_argument("--out", default=str(ROOT/"_out"), help="where tools/run_course.py writes its runs (default _out/)")
    ap.add_argument("--site", default=str(ROOT/"_site"), help="the site's folder (default _site/)")
    ap.add_argument("--no-run", action="store_true", help="run nothing: fail if a notebook has no fresh executed copy")
    a = ap.parse_args()
    t0 = time.time()
    try: pages = build(a.nbs, a.out, a.site, run=not a.no_run)
    except SiteError as e: sys.exit(f"make site: {e}")
    modes = {m: sum(p.get("mode") == m for p in pages) for m in ("quick", "full")}
    print(f"make site: {len(pages)} pages ({modes['quick']} quick mode, {modes['full']} full mode) in {a.site} "
          f"({time.time()-t0:.0f} s); open {Path(a.site)/'index.html'}")


if __name__ == "__main__":
    main()
