"""The browser tests run only when tests/browser is named (`make browser-test`), never under a plain `pytest tests/`:
they need Chromium and take minutes."""
import os, shutil, tempfile
from pathlib import Path
import pytest

HERE = Path(__file__).resolve().parent


def _named(config):
    for a in config.args:
        p = Path(a.split("::")[0]).resolve()
        if p == HERE or HERE in p.parents: return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.name.startswith("test_") and not _named(config): return True


CHROMIUM = os.environ.get("MLCOURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    "Debian's Chromium driven by Playwright, with a fresh profile (Playwright's own browser download is never used)."
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run tools/browser_setup.sh (Debian: apt-get install chromium) "
                    "or set MLCOURSE_CHROMIUM")
    from playwright.sync_api import sync_playwright
    profile = tempfile.mkdtemp(prefix="mlcourse-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                                   viewport={"width": 1400, "height": 1000})
        try: yield ctx
        finally: ctx.close(); shutil.rmtree(profile, ignore_errors=True)
