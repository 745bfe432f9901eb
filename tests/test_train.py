"fit, History, predict, lr_find and friends on tiny in-memory problems (seconds, CPU)."
import os, shutil, signal
import numpy as np, pytest, torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from mlcourse.train import (fit, predict, lr_find, History, Callback, load_checkpoint, resolve_precision,
                            resolve_channels_last, make_opt, OPTIMIZERS, predict_ensemble, pseudo_labels)

torch.set_num_threads(1)


def data(n=256, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, d, generator=g) + (y[:, None] * 2 - 1.0), y


def dls(bs=32, shuffle=True):
    (xt, yt), (xv, yv) = data(), data(128, seed=1)
    return (DataLoader(TensorDataset(xt, yt), batch_size=bs, shuffle=shuffle),
            DataLoader(TensorDataset(xv, yv), batch_size=50))


def model(): return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))


class Acc:
    "A metric object that counts its calls and the sizes it saw."
    name = "acc"
    def __init__(self): self.sizes = []
    def __call__(self, preds, targets):
        self.sizes.append(len(preds)); return (preds.argmax(1) == targets).float().mean()


KW = dict(loss_fn=nn.CrossEntropyLoss(), lr=1e-2, progress=False, device="cpu")


def test_fit_learns_and_records():
    torch.manual_seed(0); train_dl, valid_dl = dls(); acc = Acc()
    h = fit(model(), train_dl, valid_dl, epochs=3, metrics=[acc], **KW)
    assert isinstance(h, History) and [r["epoch"] for r in h.records] == [1, 2, 3]
    assert set(h.records[0]) == {"epoch", "train_loss", "valid_loss", "acc", "time"}
    assert acc.sizes == [128] * 3, "metrics run once per epoch on the whole validation set"
    assert h.records[-1]["train_loss"] < h.records[0]["train_loss"] and h.records[-1]["acc"] > 0.85
    assert h.best("acc")["acc"] == max(h["acc"])
    assert h.plot() is not None


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("sched", ["onecycle", "cosine", "step", "none"])
def test_optimizers_and_schedules_without_validation(opt, sched):
    torch.manual_seed(0); train_dl, _ = dls()
    lr = 1.0 if opt == "adadelta" else 1e-2
    h = fit(model(), train_dl, epochs=2, opt=opt, sched=sched, clip=1.0, **{**KW, "lr": lr})
    assert set(h.records[0]) == {"epoch", "train_loss", "time"}
    assert h.records[1]["train_loss"] < h.records[0]["train_loss"] * 1.05


def test_opt_factory_and_instance():
    m = model()
    assert isinstance(make_opt(torch.optim.SGD, m.parameters(), 0.1), torch.optim.SGD)
    inst = torch.optim.SGD(m.parameters(), lr=0.1)
    assert make_opt(inst, None, 0.1) is inst
    with pytest.raises(ValueError, match="Unknown optimizer"): make_opt("adamz", m.parameters(), 0.1)


def test_fit_is_repeatable_with_a_seed():
    train_dl, valid_dl = dls()
    torch.manual_seed(3); a = fit(model(), train_dl, valid_dl, epochs=2, **KW)
    torch.manual_seed(3); b = fit(model(), train_dl, valid_dl, epochs=2, **KW)
    assert a["valid_loss"] == b["valid_loss"]


def test_early_stop_restores_best():
    torch.manual_seed(0); train_dl, valid_dl = dls()
    m = model()
    h = fit(m, train_dl, valid_dl, epochs=30, early_stop=2, sched="none", **{**KW, "lr": 0.5, "opt": "sgd"})
    best = h.best()
    assert len(h) < 30 and len(h) - best["epoch"] == 2
    _, _, ls = None, None, nn.CrossEntropyLoss()
    preds, targs = predict(m, valid_dl, precision="auto")      # the precision fit validated in
    assert abs(ls(preds, targs).item() - best["valid_loss"]) < 1e-5, "the model should hold the best weights"


def test_monitor_missing_key_is_explained():
    train_dl, _ = dls()
    with pytest.raises(KeyError, match="Cannot monitor 'valid_loss'"):
        fit(model(), train_dl, epochs=1, early_stop=1, **KW)


def test_checkpoint_resume_in_process(tmp_path):
    train_dl, valid_dl = dls()
    torch.manual_seed(0); ref = model(); h_ref = fit(ref, train_dl, valid_dl, epochs=3, **KW)
    torch.manual_seed(0); m = model(); fit(m, train_dl, valid_dl, epochs=3, checkpoint_dir=tmp_path, **KW,
                                          callbacks=[StopAfter(1)])
    ck = load_checkpoint(tmp_path/"last.pt")
    assert ck["epoch"] == 1 and (tmp_path/"best.pt").exists()
    assert set(ck["rng"]) >= {"python", "numpy", "torch", "cuda", "loader"}
    m2 = model()
    h = fit(m2, train_dl, valid_dl, epochs=3, checkpoint_dir=tmp_path, resume=True, **KW)
    assert h["valid_loss"] == h_ref["valid_loss"]
    for a, b in zip(ref.parameters(), m2.parameters()): assert torch.equal(a, b)


class InterruptAt(Callback):
    "Stop mid-epoch as Ctrl-C would (no signal): `run.interrupt` at a chosen batch of epoch 1."
    def __init__(self, batch): self.batch = batch
    def after_batch(self, run):
        if run.epoch == 1 and run.batch == self.batch: run.interrupt = "SIGINT"


def test_mid_epoch_resume_reports_the_whole_epochs_train_loss(tmp_path):
    "After a resume inside an epoch, that epoch's train_loss still averages every batch, as an unbroken run's does."
    train_dl, valid_dl = dls()
    assert len(train_dl) > 3
    torch.manual_seed(0); ref = model(); h_ref = fit(ref, train_dl, valid_dl, epochs=3, **KW)
    torch.manual_seed(0); m = model()
    fit(m, train_dl, valid_dl, epochs=3, checkpoint_dir=tmp_path, callbacks=[InterruptAt(2)], **KW)
    assert load_checkpoint(tmp_path/"last.pt")["batch"] == 2
    m2 = model(); h = fit(m2, train_dl, valid_dl, epochs=3, checkpoint_dir=tmp_path, resume=True, **KW)
    assert h["valid_loss"] == h_ref["valid_loss"]
    assert h["train_loss"] == pytest.approx(h_ref["train_loss"], rel=1e-6), (h["train_loss"], h_ref["train_loss"])


def test_resume_restores_a_tensorloaders_sampler_and_augmentation(tmp_path):
    "Resuming with a seeded TensorLoader (rare-label sampler + Augment) redraws the very batches of an unbroken run."
    from mlcourse.data import TensorLoader, Augment, RareLabelSampler
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(96, 1, 8, 8, generator=g), (torch.rand(96, 3, generator=g) < 0.3).float()
    def loader(): return TensorLoader(x, y, bs=16, sampler=RareLabelSampler(y, seed=1), augment=Augment(flip=0.5, noise=0.1),
                                      seed=2, device="cpu")
    def net(): torch.manual_seed(0); return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    kw = dict(KW, loss_fn=nn.BCEWithLogitsLoss())
    ref = net(); fit(ref, loader(), epochs=3, **kw)
    m = net(); fit(m, loader(), epochs=3, checkpoint_dir=tmp_path, callbacks=[StopAfter(1)], **kw)
    shutil.copytree(tmp_path, tmp_path.parent/"copy")
    assert set(load_checkpoint(tmp_path/"last.pt")["rng"]["loader"]["state_dict"]) == {"order", "sampler", "augment"}
    m2 = net(); fit(m2, loader(), epochs=3, checkpoint_dir=tmp_path, resume=True, **kw)
    for a, b in zip(ref.parameters(), m2.parameters()): assert torch.equal(a, b)
    deaf = loader(); deaf.load_state_dict = lambda state: None  # a loader that ignores the saved state ...
    m4 = net(); fit(m4, deaf, epochs=3, checkpoint_dir=tmp_path.parent/"copy", resume=True, **kw)
    assert not all(torch.equal(a, b) for a, b in zip(ref.parameters(), m4.parameters()))  # ... ends elsewhere


class StopAfter(Callback):
    def __init__(self, epochs): self.epochs = epochs
    def after_epoch(self, run): run.stop = len(run.history) >= self.epochs


class CtrlCAt(Callback):
    def __init__(self, batch): self.batch = batch
    def after_batch(self, run):
        if run.epoch == 1 and run.batch == self.batch: os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_checkpoints_and_returns_history(tmp_path, capsys):
    train_dl, valid_dl = dls()
    before = signal.getsignal(signal.SIGINT)
    h = fit(model(), train_dl, valid_dl, epochs=3, checkpoint_dir=tmp_path, callbacks=[CtrlCAt(3)], **KW)
    assert len(h) == 1 and "interrupted" in capsys.readouterr().out
    ck = load_checkpoint(tmp_path/"last.pt")
    assert (ck["epoch"], ck["batch"]) == (1, 4)       # the signal came during batch 3's callbacks: stop after batch 4
    assert signal.getsignal(signal.SIGINT) is before, "fit must put the signal handlers back"


def test_meta_saved(tmp_path):
    train_dl, _ = dls()
    fit(model(), train_dl, epochs=1, checkpoint_dir=tmp_path, meta={"labels": ["a", "b"], "thresholds": [0.5, 0.4]}, **KW)
    assert load_checkpoint(tmp_path/"last.pt")["meta"]["labels"] == ["a", "b"]


def test_predict_order_activation_and_tta():
    torch.manual_seed(0); train_dl, valid_dl = dls()
    m = model(); fit(m, train_dl, epochs=1, **KW)
    p, t = predict(m, valid_dl, precision="fp32")   # exact comparisons: fp32 (bf16 sums depend on the batch)
    p2, t2 = predict(m, DataLoader(valid_dl.dataset, batch_size=16, shuffle=True), precision="fp32")
    assert torch.equal(t, valid_dl.dataset.tensors[1]) and torch.equal(t2, t) and torch.allclose(p, p2, atol=1e-6)
    probs, _ = predict(m, valid_dl, activation="softmax")
    assert torch.allclose(probs.sum(1), torch.ones(len(probs)))
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 16, 2))
    x = torch.randn(10, 1, 4, 4); dl = DataLoader(TensorDataset(x, torch.zeros(10)), batch_size=4)
    pt, _ = predict(cnn, dl, tta=True, precision="fp32")
    with torch.no_grad(): expect = (cnn(x) + cnn(x.flip(-1))) / 2
    assert torch.allclose(pt, expect, atol=1e-5)


def test_tensorloader_works():
    TensorLoader = pytest.importorskip("mlcourse.data").TensorLoader
    (xt, yt), (xv, yv) = data(), data(128, seed=1)
    torch.manual_seed(0)
    xt, xv = xt.view(-1, 1, 2, 3), xv.view(-1, 1, 2, 3)     # TensorLoader holds images (N, C, H, W)
    h = fit(nn.Sequential(nn.Flatten(), model()), TensorLoader(xt, yt, bs=32, shuffle=True, device="cpu"),
            TensorLoader(xv, yv, bs=64, device="cpu"), epochs=3, metrics=[Acc()], **KW)
    assert h.records[-1]["acc"] > 0.75    # chance is 0.5


def test_lr_find_restores_model():
    torch.manual_seed(0); train_dl, _ = dls()
    m = model(); before = [p.clone() for p in m.parameters()]
    res = lr_find(m, train_dl, nn.CrossEntropyLoss(), num_it=40, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert len(res.lrs) > 5 and 1e-6 < res.suggestion < 10 and res.plot() is not None


def test_precision_and_memory_format_choices():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("auto", "cpu") in ("bf16", "fp32")
    with pytest.raises(ValueError): resolve_precision("half", "cpu")
    assert resolve_channels_last("auto", nn.Conv2d(1, 2, 3), "cpu", "fp32") is True
    assert resolve_channels_last("auto", model(), "cpu", "bf16") is False


def test_bf16_cnn_trains():
    torch.manual_seed(0)
    x = torch.randn(128, 1, 8, 8); y = (x[:, 0, :4].mean((1, 2)) > x[:, 0, 4:].mean((1, 2))).long()
    dl = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 2))
    h = fit(cnn, dl, dl, epochs=4, precision="bf16", channels_last=True, **KW)
    assert h.records[-1]["valid_loss"] < h.records[0]["train_loss"]
    assert cnn[0].weight.dtype == torch.float32 and cnn[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_log_lines_when_not_interactive(capsys, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    train_dl, valid_dl = dls()
    fit(model(), train_dl, valid_dl, epochs=2, **{**KW, "progress": True})
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2") and "valid_loss" in lines[0]


def test_bad_batches_are_explained():
    dl = DataLoader(TensorDataset(torch.randn(8, 6)), batch_size=4)
    with pytest.raises(TypeError, match=r"pair \(xb, yb\)"):
        fit(model(), dl, epochs=1, **KW)


def test_pseudo_labels_from_an_ensemble_are_surer_and_more_accurate():
    "Train three models on 24 labelled points; the ensemble's confident pseudo-labels beat its overall accuracy."
    def hard(n, seed):  # overlapping classes: no model gets them all right
        g = torch.Generator().manual_seed(seed); y = torch.randint(0, 2, (n,), generator=g)
        return torch.randn(n, 6, generator=g) + (y[:, None] * 2 - 1.0) * 0.35, y
    (xl, yl), (xu, yu) = hard(48, 3), hard(512, 4)
    lab_dl = DataLoader(TensorDataset(xl, yl), batch_size=8, shuffle=True)
    pool_dl = DataLoader(TensorDataset(xu, yu), batch_size=128)
    models = []
    for s in range(3):
        torch.manual_seed(s); m = model(); fit(m, lab_dl, epochs=30, **KW); models.append(m)
    probs, targs = predict_ensemble(models, pool_dl)
    assert torch.equal(targs, yu) and torch.allclose(probs.sum(1), torch.ones(512))
    single = [predict(m, pool_dl, activation="softmax")[0] for m in models]
    assert torch.allclose(probs, torch.stack(single).mean(0))
    overall = (probs.argmax(1) == yu).float().mean()
    idx, lab, conf = pseudo_labels(probs, threshold=0.9)
    assert 0 < len(idx) < 512 and (conf >= 0.9).all() and torch.equal(idx, idx.sort().values)
    assert overall < 0.95 and (lab == yu[idx]).float().mean() > overall + 0.03
    capped, clab, _ = pseudo_labels(probs, threshold=0.9, max_per_class=10)
    assert torch.bincount(clab, minlength=2).max() <= 10 and set(capped.tolist()) <= set(idx.tolist())
    with pytest.raises(ValueError, match="not logits"): pseudo_labels(predict_ensemble(models, pool_dl, activation=None)[0] * 10)
    with pytest.raises(ValueError, match="at least one model"): predict_ensemble([], pool_dl)
    assert len(pseudo_labels(probs, threshold=0.0)[0]) == 512          # threshold 0 keeps every image


# ---- plots: what is drawn ---------------------------------------------------------------------------------

def _lines(ax): return {l.get_label(): (list(l.get_xdata()), list(l.get_ydata())) for l in ax.lines}


def test_history_plot_draws_the_records():
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    recs = [{"epoch": e, "train_loss": 1 / e, "valid_loss": 1.2 / e, "acc": 0.5 + 0.1 * e, "f1_macro": 0.3 + 0.05 * e,
             "time": 1.5, "lr": 1e-3} for e in (1, 2, 3)]
    fig = History(recs).plot()
    left, right = fig.axes
    assert _lines(left) == {k: ([1, 2, 3], [r[k] for r in recs]) for k in ("train_loss", "valid_loss")}
    assert _lines(right) == {k: ([1, 2, 3], [r[k] for r in recs]) for k in ("acc", "f1_macro")}  # time and lr left out
    assert (left.get_xlabel(), left.get_ylabel(), right.get_xlabel(), right.get_ylabel()) == ("epoch", "loss", "epoch", "metric")
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["acc", "f1_macro"]
    plt.close(fig)
    fig = History([{k: r[k] for k in ("epoch", "train_loss")} for r in recs]).plot()
    assert len(fig.axes) == 1 and _lines(fig.axes[0]) == {"train_loss": ([1, 2, 3], [1, 0.5, 1 / 3])}
    plt.close(fig)


def test_lr_find_plot_draws_the_sweep():
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mlcourse.train import LRFind
    lrs = [10 ** (-6 + 0.25 * i) for i in range(20)]
    losses = [2.0 - 0.08 * i if i < 15 else 0.8 + 0.3 * (i - 15) for i in range(20)]
    res = LRFind(lrs, losses)
    fig = res.plot()
    ax, = fig.axes
    curve, mark = ax.lines
    assert list(curve.get_xdata()) == lrs and list(curve.get_ydata()) == losses
    assert lrs[0] <= res.suggestion < lrs[int(np.argmin(losses))] and list(mark.get_xdata()) == [res.suggestion] * 2
    assert mark.get_label() == f"suggestion {res.suggestion:.1e}"
    assert ax.get_xscale() == "log" and (ax.get_xlabel(), ax.get_ylabel()) == ("learning rate", "loss (smoothed)")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"suggestion {res.suggestion:.1e}"]
    plt.close(fig)


def test_dict_outputs_train_evaluate_and_predict():
    "A multi-head model returning a dict: the loss gets the dict, metrics and predict the 'logits' entry (or output=)."
    from torch.utils.data import DataLoader, TensorDataset
    from mlcourse.train import fit, evaluate, predict
    torch.manual_seed(0)
    x = torch.randn(256, 6); y = (x[:, 0] > 0).long()
    dl = DataLoader(TensorDataset(x, y), batch_size=32)
    class Heads(torch.nn.Module):
        def __init__(self): super().__init__(); self.a, self.b = torch.nn.Linear(6, 2), torch.nn.Linear(6, 3)
        def forward(self, xb): return {"aux": self.b(xb), "logits": self.a(xb)}
    seen = []
    def loss_fn(out, yb):
        seen.append(sorted(out)); return torch.nn.functional.cross_entropy(out["logits"], yb) + out["aux"].pow(2).mean()
    def acc(preds, targets): return (preds.argmax(1) == targets).float().mean()
    m = Heads()
    h = fit(m, dl, dl, epochs=3, loss_fn=loss_fn, lr=3e-2, metrics=[acc], progress=False, device="cpu", precision="fp32")
    assert seen[0] == ["aux", "logits"] and h.records[-1]["acc"] > 0.9
    assert evaluate(m, dl, metrics=[acc])["acc"] == pytest.approx(h.records[-1]["acc"])
    assert predict(m, dl)[0].shape == (256, 2) and predict(m, dl, output="aux")[0].shape == (256, 3)
    assert predict(m, dl, output=lambda o: o["aux"][:, :1])[0].shape == (256, 1)


def test_predict_runs_in_fits_precision_by_default(monkeypatch):
    "predict's default is fit's: bf16 autocast where the CPU has bf16, fp32 where it has not or when asked."
    import mlcourse.train as T
    seen = []
    class Spy(nn.Module):
        def __init__(self): super().__init__(); self.lin = nn.Linear(2, 3)
        def forward(self, x): seen.append(torch.is_autocast_enabled("cpu")); return self.lin(x)
    dl = DataLoader(TensorDataset(torch.randn(8, 2), torch.zeros(8).long()), batch_size=4)
    for has_bf16 in (True, False):
        monkeypatch.setattr(T, "cpu_has_bf16", lambda: has_bf16)
        seen.clear(); preds, _ = predict(Spy(), dl, device="cpu")
        assert seen == [has_bf16] * 2 and preds.dtype == torch.float32
    monkeypatch.setattr(T, "cpu_has_bf16", lambda: True)
    seen.clear(); predict(Spy(), dl, device="cpu", precision="fp32")
    assert seen == [False, False]
