"""The notebook experience in JupyterLab, tested in a real (headless) browser: `make browser-test`.

JupyterLab runs on the project's venv with the notebooks in nbs/; headless Chromium, driven by Playwright, opens
each notebook below and checks what a student sees: the tab is not marked modified on opening, Run All Cells
finishes within RUN_LIMIT_S with every code cell executed, no cell shows an error or any stderr output (pink box),
and every figure and widget (progress bar) the notebook shows when run headless (nbclient, same kernel) is
rendered in the browser too.
Nothing is saved: autosave is off, checkpoints go to a temporary folder, the tabs are closed unsaved, and the
server's log is checked for saves.

Not collected by `pytest tests/`: tests/browser/conftest.py collects it only when tests/browser is named.
Needs /usr/bin/chromium (tools/browser_setup.sh installs the Debian package) or MLCOURSE_CHROMIUM=/path/to/chromium,
and Playwright from pip (the dev requirements); Playwright's own browser download is never used.
MLCOURSE_BROWSER_NBS="a.ipynb b.ipynb" picks other notebooks.
"""
import json, os, platform, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NBS = ROOT/"nbs"
VENV_BIN = Path(sys.executable).parent
NOTEBOOKS = os.environ.get("MLCOURSE_BROWSER_NBS", "index.ipynb 00_whole_game.ipynb 02_data_wrangling.ipynb 03_training_loop.ipynb").split()
OPEN_LIMIT_S = 90    # JupyterLab loaded, the notebook open and its kernel idle
RUN_LIMIT_S = 180    # Run All Cells, quick mode, on 2 cores (the lessons take 10-60 s)
SETTLE_S, CLEAN_S = 10, 3  # once the kernel is idle, the tab must be unmodified within SETTLE_S and stay so CLEAN_S

sys.path.insert(0, str(ROOT/"tools"))
from nb import NB_META  # noqa: E402  the metadata every notebook carries (tools/nb.py)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _settings(d):
    "JupyterLab user settings for the test: no autosave, every cell in the page, no news or update checks."
    for plugin, value in {"docmanager-extension/plugin": {"autosave": False},
                          "notebook-extension/tracker": {"windowingMode": "none"},
                          "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}.items():
        f = d/"@jupyterlab"/f"{plugin}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))


def _env():
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # a student's kernel draws inline
    env.update(MLCOURSE_QUICK="1", OMP_WAIT_POLICY="PASSIVE", PYTHONDONTWRITEBYTECODE="1")
    return env


def test_notebook_metadata_matches_kernel():
    "Every notebook carries NB_META, whose language_info is what this venv's kernel reports (else tabs open modified)."
    assert NB_META["language_info"]["version"] == platform.python_version(), (
        f"tools/nb.py NB_META records Python {NB_META['language_info']['version']} but the venv runs "
        f"{platform.python_version()}: JupyterLab would mark every notebook modified on opening. Set the version in "
        f"NB_META and run `python tools/nb.py meta nbs/*.ipynb`.")
    wrong = [p.name for p in sorted(NBS.glob("*.ipynb")) if json.loads(p.read_text())["metadata"] != NB_META]
    assert not wrong, (f"notebook metadata differs from tools/nb.py NB_META in {wrong}: "
                       "run `python tools/nb.py meta nbs/*.ipynb`")


@pytest.fixture(scope="module")
def lab():
    "A JupyterLab server on nbs/ with a random token and throwaway settings; yields (base_url, token, log_path)."
    if not (VENV_BIN/"jupyter-lab").exists(): pytest.fail(f"no jupyter-lab in {VENV_BIN}: run `make setup`")
    tmp = Path(tempfile.mkdtemp(prefix="mlcourse-lab-"))
    _settings(tmp/"settings")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [str(VENV_BIN/"jupyter"), "lab", "--no-browser", f"--port={port}", f"--ServerApp.token={token}",
           f"--notebook-dir={NBS}", "--ServerApp.ip=127.0.0.1", f"--LabApp.user_settings_dir={tmp/'settings'}",
           f"--LabApp.workspaces_dir={tmp/'workspaces'}", f"--FileCheckpoints.checkpoint_dir={tmp/'checkpoints'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0: cmd.append("--allow-root")
    log = open(tmp/"server.log", "w")
    srv = subprocess.Popen(cmd, env=dict(_env(), JUPYTER_RUNTIME_DIR=str(tmp/"runtime")), stdout=log,
                           stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if srv.poll() is not None: break
            try: urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2); break
            except OSError: time.sleep(0.25)
        else: srv.poll()
        if srv.returncode is not None or srv.poll() is not None:
            pytest.fail(f"JupyterLab did not start; its log:\n{(tmp/'server.log').read_text()[-3000:]}")
        yield base, token, tmp/"server.log"
    finally:
        srv.terminate()
        try: srv.wait(20)
        except subprocess.TimeoutExpired: srv.kill(); srv.wait()
        log.close(); shutil.rmtree(tmp, ignore_errors=True)


WIDGET = "application/vnd.jupyter.widget-view+json"


def headless_outputs(name):
    "Per code cell, how many (figures, widgets) the notebook shows when nbclient runs it on the same kernel."
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(NBS/name, as_version=4)
    old = dict(os.environ); os.environ.clear(); os.environ.update(_env())
    try: NotebookClient(nb, timeout=RUN_LIMIT_S, kernel_name=NB_META["kernelspec"]["name"], allow_errors=True,
                        resources={"metadata": {"path": str(NBS)}}).execute()  # errors: the browser run reports them
    finally: os.environ.clear(); os.environ.update(old)
    count = lambda c, f: sum(any(f(k) for k in o.get("data", {})) for o in c.outputs)
    return [(count(c, lambda k: k.startswith("image/")), count(c, lambda k: k == WIDGET))
            for c in nb.cells if c.cell_type == "code"]


_STATE_JS = """() => {
  const ind = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')];
  return {status: ind ? ind.getAttribute('data-status') : null, cells: cells.map(c => {
    const code = c.classList.contains('jp-CodeCell');
    const outs = [...c.querySelectorAll('.jp-OutputArea-output')];
    return {code, prompt: code ? (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '' : '',
      source: (c.querySelector('.jp-InputArea-editor .cm-line') || {}).textContent || '',
      stderr: outs.filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr')
                  .map(o => o.textContent.slice(0, 600)),
      images: outs.filter(o => (o.getAttribute('data-mime-type') || '').startsWith('image/'))
                  .filter(o => [...o.querySelectorAll('img')].some(i => i.complete && i.naturalWidth > 0)
                               || o.querySelector('svg')).length,
      widgets: outs.filter(o => [...o.querySelectorAll('.jupyter-widgets')].some(w => w.offsetWidth > 0)).length,
      widget_errors: outs.map(o => o.textContent).filter(t => /Error displaying widget|Error rendering/.test(t))};
  })};
}"""


def _state(page):
    s = page.evaluate(_STATE_JS)
    s["code"] = [c for c in s["cells"] if c["code"]]
    return s


def _executed(cell): return cell["prompt"].strip().strip("[]:").strip().isdigit()


def _where(i, cell): return f"code cell {i} ({cell['source'].strip()[:60]!r})"


def _shutdown_kernels(base, token):
    "Close every session the browser opened, so its kernel stops using the cores."
    req = lambda path, method="GET": urllib.request.urlopen(urllib.request.Request(
        f"{base}{path}?token={token}", method=method), timeout=10)
    for s in json.loads(req("/api/sessions").read()): req(f"/api/sessions/{s['id']}", "DELETE")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(name, lab, browser):
    base, token, log = lab
    assert (NBS/name).exists(), f"no notebook nbs/{name} (MLCOURSE_BROWSER_NBS names notebooks in nbs/)"
    expected = headless_outputs(name)
    page = browser.new_page()
    try:
        t0 = time.time()
        page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
        page.wait_for_selector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]',
                               timeout=OPEN_LIMIT_S * 1000)
        t_open = time.time() - t0
        tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has=page.locator(".lm-TabBar-tabLabel", has_text=name))
        # JupyterLab writes the kernel's kernelspec and language_info into the notebook as the kernel starts; the tab
        # flickers modified for a moment even when they are the same. It must then be clean, and stay clean.
        clean_since, t1 = None, time.time()
        while clean_since is None or time.time() - clean_since < CLEAN_S:
            dirty = "jp-mod-dirty" in (tab.first.get_attribute("class") or "")
            clean_since = None if dirty else clean_since or time.time()
            assert time.time() - t1 < SETTLE_S, (
                f"{name} is marked modified on opening, before anything ran: its metadata differs from what "
                f"JupyterLab writes for this kernel. Compare the notebook's metadata with tools/nb.py NB_META and "
                f"the venv's kernel (jupyter kernelspec list; python version)")
            time.sleep(0.2)

        ran = [_where(i, c) for i, c in enumerate(_state(page)["code"]) if _executed(c)]
        assert not ran, f"{name} opens with execution counts in {ran[:3]}: run `make nbs` (nbdev_clean clears them)"
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        t0 = time.time()
        while True:
            s = _state(page)
            done = all(_executed(c) for c in s["code"])
            failed = any(c["stderr"] for c in s["code"]) and not any("*" in c["prompt"] for c in s["code"])
            if s["status"] == "idle" and (done or failed): break
            if time.time() - t0 > RUN_LIMIT_S:
                left = [_where(i, c) for i, c in enumerate(s["code"]) if not _executed(c)]
                pytest.fail(f"{name}: Run All Cells did not finish within {RUN_LIMIT_S} s (kernel {s['status']}); "
                            f"not executed: {left[:5]}")
            time.sleep(0.5)
        t_run = time.time() - t0
        time.sleep(1)  # the last outputs and images are drawn
        s = _state(page)
        shown = [(c["images"], c["widgets"]) for c in s["code"]]
        total = lambda xs, k: sum(x[k] for x in xs)
        print(f"\nbrowser: {name}: opened in {t_open:.1f} s; Run All Cells: {len(s['code'])} code cells in "
              f"{t_run:.1f} s (limit {RUN_LIMIT_S} s); figures shown {total(shown, 0)}, headless {total(expected, 0)}; "
              f"widgets shown {total(shown, 1)}, headless {total(expected, 1)}")

        cells = list(enumerate(s["code"]))
        problems = [f"{_where(i, c)} not executed (prompt {c['prompt']!r})" for i, c in cells if not _executed(c)]
        problems += [f"{_where(i, c)} shows stderr/error output: {t!r}" for i, c in cells for t in c["stderr"]]
        problems += [f"{_where(i, c)} widget not shown: {t[:200]!r}" for i, c in cells for t in c["widget_errors"]]
        if len(shown) != len(expected):
            problems.append(f"{len(shown)} code cells in the browser, {len(expected)} in the file")
        else:
            for i, (c, (n, w), (e, ew)) in enumerate(zip(s["code"], shown, expected)):
                if n < e: problems.append(f"{_where(i, c)} shows {n} figure(s), headless it makes {e}")
                if w < ew: problems.append(f"{_where(i, c)} shows {w} widget(s) (progress bars), headless {ew}")
        assert not problems, f"{name} in JupyterLab:\n  " + "\n  ".join(problems)
    finally:
        page.close()  # unsaved: autosave is off and Playwright skips the "leave page?" prompt
        _shutdown_kernels(base, token)
    saved = [l for l in log.read_text().splitlines() if "Saving file" in l or "PUT /api/contents" in l]
    assert not saved, f"JupyterLab saved a file while the test ran {name}: {saved}"
