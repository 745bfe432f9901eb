"The set-up script: a failed install says what is missing and leaves no half-built venv behind."
import shutil, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy_project(tmp):
    (tmp/"tools").mkdir()
    for f in ("settings.ini", "setup.py", "tools/setup.sh"): shutil.copy(ROOT/f, tmp/f)
    return tmp


def test_missing_python_is_named_and_half_built_venv_removed(tmp_path):
    p = _copy_project(tmp_path)
    (p/".venv/bin").mkdir(parents=True)          # a venv from an interrupted install: no ready-stamp
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "PYTHON": "no-such-python3", "HOME": str(p)})
    assert r.returncode == 1
    assert "no no-such-python3 found" in r.stderr and "install Python" in r.stderr
    assert not (p/".venv").exists()


def test_failed_venv_creation_leaves_nothing(tmp_path):
    p = _copy_project(tmp_path)
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "PYTHON": "false", "HOME": str(p)})
    assert r.returncode == 1 and "could not create a virtual environment" in r.stderr
    assert not (p/".venv").exists()


def test_ready_stamp_matches_settings():
    "The stamp written by a finished set-up is the hash of the files that define the environment."
    stamp = ROOT/".venv/.mlcourse-ready"
    if not stamp.exists(): return  # running outside the course venv (e.g. an installed package)
    want = subprocess.run("cat settings.ini setup.py tools/setup.sh | sha256sum | cut -c1-16", shell=True,
                          cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert stamp.read_text().strip() == want
