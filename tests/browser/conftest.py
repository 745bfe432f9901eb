"""The browser tests run only when tests/browser is named (`make browser-test`), never under a plain `pytest tests/`:
they need Chromium and take minutes."""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _named(config):
    for a in config.args:
        p = Path(a.split("::")[0]).resolve()
        if p == HERE or HERE in p.parents: return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.name.startswith("test_") and not _named(config): return True
