"The set-up script: a failed install says what is missing and leaves no half-built venv behind."
import hashlib, shutil, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy_project(tmp):
    (tmp/"tools").mkdir(parents=True)
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


FAKE_PYTHON = r"""#!/bin/bash
# A stand-in python: logs each call; `-m venv DIR` makes DIR/bin/python (itself); pip exits with $FAKE_PIP_RC.
echo "$*" >> "$CALLS"
case "$1 $2" in
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip") exit "${FAKE_PIP_RC:-0}" ;;
  "--version ") echo "Python 3.99.0" ;;
  -c*) case "$2" in *print*) echo "torch 0.0-fake" ;; esac ;;
esac
exit 0
"""


def _fake_env(tmp_path, **extra):
    "An environment whose python is FAKE_PYTHON and whose Fashion-MNIST files are present (so apt is never called)."
    bin_, data = tmp_path/"fakebin", tmp_path/"data"/"fashion-mnist"
    bin_.mkdir(); data.mkdir(parents=True)
    (bin_/"python3").write_text(FAKE_PYTHON); (bin_/"python3").chmod(0o755)
    for f in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"): (data/f).write_bytes(b"")
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": str(bin_/"python3"), "CALLS": str(tmp_path/"calls.log"),
            "MLCOURSE_DATA": str(data.parent), **extra}


def _want_stamp(p):
    "The hash the set-up writes: the first 16 hex digits of sha256(settings.ini + setup.py + tools/setup.sh)."
    return hashlib.sha256(b"".join((p/f).read_bytes() for f in ("settings.ini", "setup.py", "tools/setup.sh"))).hexdigest()[:16]


def _calls(env):
    path = Path(env["CALLS"])
    calls = path.read_text().splitlines() if path.exists() else []
    path.write_text("")
    return calls


def test_install_writes_the_stamp_then_does_nothing_until_settings_change(tmp_path):
    p, env = _copy_project(tmp_path/"proj"), _fake_env(tmp_path)
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "creating .venv with Python 3.99.0" in r.stdout and ".venv ready" in r.stdout
    calls = _calls(env)
    assert calls[:2] == ["--version", "-m venv .venv"] and "-m pip install -e .[dev]" in calls
    assert (p/".venv/.mlcourse-ready").read_text().strip() == _want_stamp(p)
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""                # up to date: nothing installed
    assert _calls(env) == ["-c import torch, nbdev, mlcourse"]
    with open(p/"settings.ini", "a") as f: f.write("\n# a changed requirement\n")
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "settings changed, updating .venv" in r.stdout
    assert "-m pip install -e .[dev]" in _calls(env) and (p/".venv/.mlcourse-ready").read_text().strip() == _want_stamp(p)


def test_failed_pip_names_the_cause_and_keeps_only_a_finished_venv(tmp_path):
    p = _copy_project(tmp_path/"proj")
    env = _fake_env(tmp_path, FAKE_PIP_RC="1")
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "pip could not install the requirements" in r.stderr
    assert not (p/".venv").exists()                                             # a first install leaves nothing
    env["FAKE_PIP_RC"] = "0"
    assert subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, env=env).returncode == 0
    old = (p/".venv/.mlcourse-ready").read_text()
    with open(p/"setup.py", "a") as f: f.write("\n# changed\n")
    env["FAKE_PIP_RC"] = "1"
    r = subprocess.run(["bash", "tools/setup.sh"], cwd=p, capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "pip could not install" in r.stderr
    assert (p/".venv/bin/python").exists() and (p/".venv/.mlcourse-ready").read_text() == old  # the working venv stays
    assert old.strip() != _want_stamp(p)                                        # ... and the next run tries again
