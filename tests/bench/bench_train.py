"""Benchmarks for mlcourse.train.fit (a plain script; `make bench` runs it; BENCH_QUICK=1 for a fast run).

1. Overhead: `fit` against a hand-written loop doing the same work (same model, data, seed, optimizer, float32,
   no schedule): the losses must agree to 1e-6; prints the wall-time ratio fit/hand (median of several runs).
2. Speed of the defaults: time to reach the same Fashion-MNIST test accuracy with the course CNN, `fit`'s defaults
   (bf16 autocast where the CPU/GPU has it, channels_last) against float32 NCHW; prints the speed-up.
   (On 4,000 training images for 2 epochs, so that all of `make bench` fits in 10 minutes on 2 cores; lesson 14 and
   bench_speedrun.py measure time to accuracy on the whole set.)
"""
import os, statistics, sys, time
import torch
from torch import nn
from mlcourse.core import seed_everything, get_device, env_report, record
from mlcourse.data import TensorLoader
from mlcourse.datasets import fashion_mnist
from mlcourse.train import fit, resolve_precision

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("0", "", "false")
DEV = get_device()
try:
    from mlcourse.models import SimpleCNN
    def cnn(widths=(32, 64, 128)): return SimpleCNN(in_ch=1, n_out=10, widths=widths)
except ImportError:  # a local 3-block conv-BN-ReLU CNN
    def cnn(widths=(32, 64, 128)):
        layers, ni = [], 1
        for nf in widths: layers += [nn.Conv2d(ni, nf, 3, padding=1, bias=False), nn.BatchNorm2d(nf), nn.ReLU(), nn.MaxPool2d(2)]; ni = nf
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ni, 10))


def accuracy(preds, targets): return (preds.argmax(1) == targets).float().mean()


def data(n_train, n_test):
    x, y = fashion_mnist("train"); xt, yt = fashion_mnist("test")
    return (x[:n_train], y[:n_train]), (xt[:n_test], yt[:n_test])


def hand_loop(model, train_dl, epochs, lr, wd):
    "What fit does with sched='none', precision='fp32', channels_last=False, no validation."
    model.to(DEV); opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd); out = []
    for epoch in range(epochs):
        model.train(); total, n = 0.0, 0
        for xb, yb in train_dl:
            xb, yb = xb.to(DEV), yb.to(DEV)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            total += loss.item() * len(yb); n += len(yb)
        out.append(total / n)
    return out


def overhead(repeats):
    (x, y), _ = data(*((1024, 0) if QUICK else (2048, 0)))
    widths, epochs, lr, wd = (16, 32, 64), 2, 3e-3, 0.01
    t_fit, t_hand = [], []
    for r in range(repeats):
        for which in (("fit", "hand") if r % 2 == 0 else ("hand", "fit")):   # alternate to share the machine fairly
            seed_everything(0, deterministic=True)
            dl = TensorLoader(x, y, bs=128, shuffle=True, device=DEV)
            model = cnn(widths); t0 = time.perf_counter()
            if which == "fit":
                h = fit(model, dl, epochs=epochs, loss_fn=nn.CrossEntropyLoss(), lr=lr, wd=wd, sched="none",
                        precision="fp32", channels_last=False, progress=False, device=DEV)
                losses_fit = h["train_loss"]; t_fit.append(time.perf_counter() - t0)
            else:
                losses_hand = hand_loop(model, dl, epochs, lr, wd); t_hand.append(time.perf_counter() - t0)
        diff = max(abs(a - b) for a, b in zip(losses_fit, losses_hand))
        assert diff < 1e-6, f"fit and the hand loop disagree by {diff}"
    ratio = statistics.median(t_fit) / statistics.median(t_hand)
    print(f"overhead: fit {statistics.median(t_fit):.2f}s vs hand loop {statistics.median(t_hand):.2f}s "
          f"(median of {repeats}); losses equal to 1e-6 (max diff {diff:.1e}); ratio fit/hand = {ratio:.3f}")
    record(f"bench_train: fit / hand-written loop, wall time of the same work (median of {repeats}; losses equal)", ratio, "{:.2f}")
    return ratio


def time_to_accuracy():
    (x, y), (xt, yt) = data(*((3000, 1000) if QUICK else (4000, 2000)))
    epochs = 2
    runs = {}
    for name, kw in (("defaults", dict(precision="auto", channels_last="auto")),
                     ("fp32 NCHW", dict(precision="fp32", channels_last=False))):
        seed_everything(0)
        train_dl = TensorLoader(x, y, bs=128, shuffle=True, device=DEV)
        test_dl = TensorLoader(xt, yt, bs=512, device=DEV)
        h = fit(cnn(), train_dl, test_dl, epochs=epochs, loss_fn=nn.CrossEntropyLoss(), lr=3e-3, metrics=[accuracy],
                progress=False, device=DEV, **kw)
        t = 0.0; curve = []
        for r in h.records: t += r["time"]; curve.append((t, r["accuracy"]))
        runs[name] = curve
        print(f"{name:>10} ({resolve_precision(kw['precision'], DEV)}, channels_last={kw['channels_last']}): "
              + ", ".join(f"{a:.4f}@{t:.0f}s" for t, a in curve))
    target = min(max(a for _, a in c) for c in runs.values()) - 0.002   # an accuracy both runs reach
    when = {k: next(t for t, a in c if a >= target) for k, c in runs.items()}
    speedup = when["fp32 NCHW"] / when["defaults"]
    print(f"time to test accuracy {target:.4f}: defaults {when['defaults']:.1f}s, fp32 NCHW {when['fp32 NCHW']:.1f}s; "
          f"speed-up {speedup:.2f}x")
    record(f"bench_train: fit's defaults ({resolve_precision('auto', DEV)} + channels_last) vs fp32 NCHW, faster to "
           f"{target:.1%} ({len(x)} images, {epochs} epochs)", f"{speedup:.2f}x")
    return speedup


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    env_report(DEV)
    print(f"{'quick' if QUICK else 'full'} benchmark; timings on a shared machine vary: compare ratios, not seconds")
    overhead(3)
    time_to_accuracy()
