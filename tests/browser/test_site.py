"""The static course (`make site`, tools/site.py) in a real (headless) browser: `make browser-test`.

The site is built first (tools/site.py runs, in quick mode, the notebooks that _out/ lacks or holds older copies
of: every lesson on a clean clone, 296 s on 2 busy cores, load average 3) and served from _site/ on a local port.
Headless Chromium, driven by Playwright, loads every page over HTTP and from file:// and checks what a reader sees:
no console error or page error, nothing requested from outside the site (no script, stylesheet or font from a CDN),
every internal link answering 200 and every #anchor existing, previous/next/index links in the course order, every
picture loaded, at least one figure on every lesson page (EXEMPT lists the pages without one, and why), as many
figures as the executed notebook made, no traceback or error output, the exercises shown, no `#| hide` cell and no
`#|` directive line in the code, no heading that starts with "#".

Not collected by `pytest tests/`: tests/browser/conftest.py collects it only when tests/browser is named.
Needs /usr/bin/chromium (tools/browser_setup.sh) or MLCOURSE_CHROMIUM, and Playwright from pip; Playwright's own
browser download is never used.
"""
import functools, json, re, subprocess, sys, threading, time, urllib.error, urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
NBS, SITE = ROOT/"nbs", ROOT/"_site"
BUILD_LIMIT_S = 2700  # tools/site.py running every lesson (solutions included) in quick mode on 2 cores, then rendering;
                     # 22 notebooks took about 30 min under load beside a full-mode run (the project studies 05a, 12a, 12b included)
LOAD_LIMIT_S = 30    # one page loaded, pictures decoded

# Pages that need not show a figure, and why. A page listed here that does show one fails the test: take it off.
EXEMPT = {
    "index": "the course map: a table of lessons, no outputs to plot",
    "02a_distributed": "appendix (plumbing): processes and sharding, checked by printed shard sizes",
    "02b_checkpoint": "appendix (plumbing): checkpoint files and signals, checked by printed resumes",
    "07_multilabel_losses": "a lesson whose quick-mode run prints tables of scores and draws no figure yet",
    "15_from_the_projects": "a reference page: a table of the projects' items and where the lessons measure them",
}
PAGES = ["index"] + sorted(p.stem for p in NBS.glob("*.ipynb") if p.stem != "index")  # the course order
HIDE = re.compile(r"^\s*#\s*\|\s*hide\b")
DIRECTIVE = re.compile(r"^\s*#\s*\|", re.M)


@pytest.fixture(scope="module")
def site():
    "Build _site/ with tools/site.py (it runs what _out/ lacks); the list of pages it wrote (_site/pages.json)."
    t0 = time.time()
    try: r = subprocess.run([sys.executable, str(ROOT/"tools"/"site.py")], cwd=ROOT, timeout=BUILD_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"tools/site.py did not finish within {BUILD_LIMIT_S} s: time the lessons with `make course`")
    assert r.returncode == 0, "tools/site.py failed (its output is above): `make site` shows the same"
    print(f"\nsite: built in {time.time() - t0:.0f} s")
    return {p["page"]: p for p in json.loads((SITE/"pages.json").read_text())}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass


@pytest.fixture(scope="module")
def server(site):
    "_site/ on a local port (Python's http.server in a thread); yields the base URL."
    srv = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try: yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally: srv.shutdown(); srv.server_close()


_PAGE_JS = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
  pager: Object.fromEntries(['prev', 'home', 'next'].map(k => [k,
    [...document.querySelectorAll('nav.pager a.' + k)].map(a => a.getAttribute('href'))])),
  imgs: [...document.querySelectorAll('img')].map(i => ({ok: i.complete && i.naturalWidth > 0,
    figure: !!i.closest('.output_area'), src: i.getAttribute('src').slice(0, 40)})),
  scripts: document.scripts.length,
  text: document.body.innerText,
  headings: [...document.querySelectorAll('main h1, main h2, main h3, main h4')].map(h => h.innerText),
  errors: document.querySelectorAll('.output_error').length,
  code: [...document.querySelectorAll('.input_area pre')].map(p => p.innerText),
  info: (document.querySelector('p.run-info') || {}).innerText || '',
})"""


# The exercises under an Exercises heading: the rest of its cell, or the next cell, has visible text.
_EXERCISES_JS = """h => { const cell = h.closest('.cell'); if (!cell) return false;
  const rest = cell.innerText.replace(h.innerText, '').trim();
  const body = rest ? cell : cell.nextElementSibling;
  return !!body && body.offsetHeight > 0 && body.innerText.trim().length > 0 && !body.closest('details:not([open])'); }"""


def _load(browser, url):
    "Open `url`; return what the page shows, its console errors and every URL it requested."
    page, errors, requests = browser.new_page(), [], []
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:120]} ({r.failure})"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(url, wait_until="load", timeout=LOAD_LIMIT_S * 1000)
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=LOAD_LIMIT_S * 1000)
        state = page.evaluate(_PAGE_JS)
        heads = page.locator("h2, h3", has_text=re.compile(r"^\s*Exercises?\b"))
        state["exercises_visible"] = heads.count() > 0 and all(
            heads.nth(i).is_visible() and heads.nth(i).evaluate(_EXERCISES_JS) for i in range(heads.count()))
    finally: page.close()
    return state, errors, requests


def _source(name):
    "The notebook's cells (nbs/), for what the page must and must not show."
    return json.loads((NBS/f"{name}.ipynb").read_text())["cells"]


def _figures_made(executed):
    "How many figures the executed notebook shows outside hidden cells."
    cells = json.loads(Path(executed).read_text())["cells"]
    return sum(any(k.startswith("image/") for k in o.get("data", {})) for c in cells if c["cell_type"] == "code"
               and not HIDE.match("".join(c["source"])) for o in c.get("outputs", []))


_fetched = {}


def _fetch(url):
    "(status, text) of a page on the local server, fetched once."
    if url not in _fetched:
        try:
            with urllib.request.urlopen(url, timeout=10) as r: _fetched[url] = (r.status, r.read().decode(errors="replace"))
        except urllib.error.HTTPError as e: _fetched[url] = (e.code, "")
    return _fetched[url]


def test_every_page_is_built(site):
    assert [p.removesuffix(".html") for p in site] == PAGES, "the pages are not the notebooks of nbs/ in course order"
    stale = set(EXEMPT) - set(PAGES)
    assert not stale, f"EXEMPT names pages that no notebook makes: {sorted(stale)}: take them off"


@pytest.mark.parametrize("name", PAGES)
def test_page_over_http(name, site, server, browser):
    url = urljoin(server, f"{name}.html")
    s, errors, requests = _load(browser, url)
    problems = list(errors)
    problems += [f"requested from outside the site: {u[:120]}" for u in requests
                 if not (u.startswith(server) or u.startswith("data:"))]
    if s["scripts"]: problems.append(f"{s['scripts']} <script> element(s): the site runs no JavaScript")

    # links: every internal one answers 200, every #anchor exists on its page
    for href in s["links"]:
        if urlsplit(href).scheme in ("http", "https", "mailto"): continue
        target, frag = urldefrag(urljoin(url, href))
        status, text = _fetch(target)
        if status != 200: problems.append(f"link {href!r} -> HTTP {status}")
        elif frag and f'id="{frag}"' not in text and f'id="{unquote(frag)}"' not in text:
            problems.append(f"link {href!r}: no #{frag} on its page")

    # navigation: back to the index, previous and next in course order
    i = PAGES.index(name)
    want = {"prev": [f"{PAGES[i-1]}.html"] * 2 if i else [], "home": ["index.html"] * 2,
            "next": [f"{PAGES[i+1]}.html"] * 2 if i + 1 < len(PAGES) else []}
    if s["pager"] != want: problems.append(f"navigation links {s['pager']}, expected {want}")

    # pictures: every one loads; lesson pages show figures, as many as the executed notebook made
    problems += [f"picture not shown: {img['src']!r}" for img in s["imgs"] if not img["ok"]]
    shown = sum(img["ok"] and img["figure"] for img in s["imgs"])
    made = _figures_made(site[f"{name}.html"]["executed"]) if "executed" in site[f"{name}.html"] else 0
    if shown < made: problems.append(f"{shown} figure(s) shown, the executed notebook made {made}")
    if name in EXEMPT and shown: problems.append(f"shows {shown} figure(s) but is in EXEMPT: take it off the list")
    if name not in EXEMPT and not shown:
        problems.append("a lesson page without a figure (if it should have none, add it to EXEMPT with the reason)")

    # what a reader must not see: tracebacks, error outputs, hidden cells, directive lines
    if "Traceback (most recent call last)" in s["text"] or s["errors"]:
        problems.append(f"shows a traceback / {s['errors']} error output(s): run the notebook and fix it")
    problems += [f"a heading that starts with '#': {h[:60]!r} (a markdown line commented twice?)"
                 for h in s["headings"] if h.lstrip().startswith("#")]
    problems += [f"a directive line in the code shown: {c.strip()[:60]!r}" for c in s["code"] if DIRECTIVE.search(c)]
    cells = _source(name)
    for c in cells:
        src = "".join(c["source"])
        if c["cell_type"] == "code" and HIDE.match(src):
            body = "\n".join(src.splitlines()[1:]).strip()
            if body and any(body in code for code in s["code"]): problems.append(f"a #| hide cell is shown: {body[:60]!r}")
    has_ex = any(c["cell_type"] == "markdown" and re.search(r"^#+\s*Exercises?\b", "".join(c["source"]), re.M)
                 for c in cells)
    if has_ex and not s["exercises_visible"]: problems.append("the Exercises section is missing or not visible")

    mode = site[f"{name}.html"].get("mode")
    if mode and f"{mode}-mode run" not in s["info"]:
        problems.append(f"the page does not say it shows a {mode}-mode run: {s['info']!r}")
    print(f"\nsite: {name}.html: {shown} figure(s), {len(s['links'])} links, {mode} mode")
    assert not problems, f"{name}.html over HTTP:\n  " + "\n  ".join(problems)


def test_pages_from_file_urls(site, browser):
    "Opened from disk (file://), no page errors, loads anything outside _site/, or misses a picture."
    problems = []
    for name in PAGES:
        s, errors, requests = _load(browser, (SITE/f"{name}.html").as_uri())
        problems += [f"{name}.html: {e}" for e in errors]
        problems += [f"{name}.html: requested {u[:120]}" for u in requests
                     if not (u.startswith(SITE.as_uri() + "/") or u.startswith("data:"))]
        problems += [f"{name}.html: picture not shown: {img['src']!r}" for img in s["imgs"] if not img["ok"]]
    assert not problems, "pages from file://:\n  " + "\n  ".join(problems)
