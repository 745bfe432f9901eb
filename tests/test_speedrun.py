"The speedrun recipe: lesson 14 and tests/bench/bench_speedrun.py define the same recipe, and it runs."
import ast, importlib.util, json
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parents[1]
NB, BENCH = ROOT/"nbs"/"14_train_fast.ipynb", ROOT/"tests"/"bench"/"bench_speedrun.py"
SHARED = ("RECIPE", "speed_cnn", "TimeToAccuracy", "PilImages", "loader", "train")

def _defs(code):
    "The top-level definitions (functions, classes, assignments) of `code`, by name, as AST dumps."
    out = {}
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)): out[node.name] = ast.dump(node)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name): out[node.targets[0].id] = ast.dump(node)
    return out

def _nb_code():
    cells = json.loads(NB.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code" and not "".join(c["source"]).startswith("#| hide"))

def _bench():
    spec = importlib.util.spec_from_file_location("bench_speedrun", BENCH)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def test_lesson_and_bench_share_the_recipe():
    nb, bench = _defs(_nb_code()), _defs(BENCH.read_text())
    for name in SHARED:
        assert name in nb, f"{NB.name} no longer defines {name}"
        assert nb[name] == bench.get(name), f"{name} differs between {NB.name} and {BENCH.name}: change both"

def _bn_values(model):
    "How many values the batch norms of `model` normalise for one 28x28 image."
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o.numel())) for m in model.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    model(torch.zeros(1, 1, 28, 28))
    for h in hooks: h.remove()
    return sum(seen)

def test_recipe_model_normalises_fewer_values():
    b = _bench()
    from mlcourse.models import SimpleCNN
    m = b.speed_cnn(**{k: b.RECIPE[k] for k in ("widths", "convs", "pool_first", "bn")}).eval()
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    ref = SimpleCNN(1, 10, widths=b.RECIPE["widths"], n_convs=2).eval()
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in ref.parameters())   # same weights
    assert _bn_values(m) < 0.7 * _bn_values(ref)   # but BN and ReLU run on pooled maps at the end of each stage
    no_bn1 = b.speed_cnn(bn=(False, True, True)).eval()   # the ablation's candidate: stage 1 without batch norm
    assert no_bn1(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(isinstance(l, torch.nn.BatchNorm2d) for l in no_bn1.modules()) == 4
    assert _bn_values(no_bn1) < 0.5 * _bn_values(m)   # stage 1's maps hold most of the values

def test_recipe_learns_and_clock_excludes_evaluation():
    b = _bench()
    g = torch.Generator().manual_seed(0)
    # two classes that differ in brightness: learnable in one epoch
    y = torch.randint(0, 2, (512,), generator=g)
    x = (torch.rand(512, 1, 28, 28, generator=g) * 100 + y.view(-1, 1, 1, 1) * 120).to(torch.uint8)
    r = b.train(((x[:384], y[:384]), (x[384:], y[384:])), seed=0, target=0.9, stop=True, epochs=3, bs=64)
    assert 1 <= len(r["curve"]) <= 3 and r["acc"] > 0.9, r["curve"]
    assert r["reached"] == r["curve"][-1][0]   # stopped at the first epoch that reached the target
    ts = [t for t, _ in r["curve"]]
    assert all(t1 > t0 for t0, t1 in zip(ts, ts[1:]))

def _kept(tmp_path, resume=True):
    "Lesson 14's `kept`, run from the lesson's own code, with a counting probe and tiny data."
    node = next(n for n in ast.parse(_nb_code()).body if isinstance(n, ast.FunctionDef) and n.name == "kept")
    import hashlib, os
    ns = dict(os=os, json=json, hashlib=hashlib, torch=torch, RECIPE=_bench().RECIPE, probes=[], reused=[], done=[],
              resume_dir=str(tmp_path/"keep") if resume else None, data=((torch.zeros(6), None), (torch.zeros(3), None)))
    ns["probe"] = lambda: 1.0 + len(ns["probes"])
    exec(compile(ast.Module([node], []), "kept", "exec"), ns)
    return ns

def test_kept_resumes_an_interrupted_full_run(tmp_path):
    calls = []
    def fn():
        calls.append(1); m = torch.nn.Linear(2, 2)
        return dict(model=m, curve=[(1.5, 0.8), (3.0, 0.9)], plain=[(1.5, 0.79)], reached=3.0, acc=0.9)
    first = _kept(tmp_path)
    a = first["kept"]("recipe", 0, fn, {}, model=lambda: torch.nn.Linear(2, 2))
    assert calls == [1] and first["probes"] == [1.0] and first["reused"] == []
    later = _kept(tmp_path)   # a new process, same folder: nothing trains again
    b = later["kept"]("recipe", 0, fn, {}, model=lambda: torch.nn.Linear(2, 2))
    assert calls == [1] and later["reused"] == ["recipe"] and later["probes"] == [1.0]   # the kept run's probe
    assert b["curve"] == a["curve"] and b["reached"] == 3.0 and b["acc"] == 0.9
    assert torch.equal(b["model"].weight, a["model"].weight)
    later["kept"]("recipe", 1, fn, {}); later["kept"]("no label smoothing", 0, fn, {"label_smoothing": 0.0})
    assert calls == [1, 1, 1]   # another seed or other settings train anew
    later["RECIPE"] = {**later["RECIPE"], "lr": 1.0}; later["kept"]("recipe", 0, fn, {})
    assert len(calls) == 4   # so does a changed recipe

def test_kept_retrains_over_a_damaged_file_and_keeps_nothing_unasked(tmp_path, capsys):
    calls = []
    def fn(): calls.append(1); return dict(curve=[(1.0, 0.5)], plain=[], reached=None, acc=0.5)
    ns = _kept(tmp_path); ns["kept"]("recipe", 0, fn, {})
    (f,) = (tmp_path/"keep").glob("*.pt"); f.write_bytes(b"not a checkpoint")
    again = _kept(tmp_path); r = again["kept"]("recipe", 0, fn, {})
    assert calls == [1, 1] and r["acc"] == 0.5 and "cannot be read" in capsys.readouterr().out
    assert torch.load(f, weights_only=True)["acc"] == 0.5   # written whole again
    off = _kept(tmp_path/"off", resume=False); off["kept"]("recipe", 0, fn, {}); off["kept"]("recipe", 0, fn, {})
    assert len(calls) == 4 and not (tmp_path/"off").exists()
