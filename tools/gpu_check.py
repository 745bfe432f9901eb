#!/usr/bin/env python3
"""`make gpu-check`: what this machine's GPU does with the course, in one table, in a few minutes.

    python tools/gpu_check.py            # on Colab, Puhti (an interactive GPU job), a desktop
    python tools/gpu_check.py --quick    # smaller runs (the test suite runs this on the CPU)

It reports the device and its compute capability, the precision `precision="auto"` picks, a short `fit` in each
path the device supports (fp32, fp16 with a gradient scaler, bf16, channels_last) with images per second,
checkpoint -> resume giving identical weights, the data pipeline (the share of a training step spent producing the
batch with `TensorLoader` on the device, and its images per second against a per-item PIL `DataLoader` with
`ToTensor`), and DDP over all visible GPUs when there are two or more.
Without a GPU it runs the CPU paths and says plainly that no GPU path was exercised.
"""
import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mlcourse.core import seed_everything, get_device
from mlcourse.data import TensorLoader, Augment
from mlcourse.models import SimpleCNN
from mlcourse.train import fit, resolve_precision, cpu_has_bf16, Callback


def data(n):
    "Fashion-MNIST when it is here (or downloadable), else random images: speed does not depend on the pixels."
    try:
        from mlcourse.datasets import fashion_mnist
        x, y = fashion_mnist("train"); return x[:n], y[:n], "Fashion-MNIST"
    except Exception as e:
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), torch.randint(0, 10, (n,), generator=g), f"random images ({type(e).__name__})"


def paths(device):
    "The (name, precision, channels_last) paths this device supports."
    out = [("fp32", "fp32", False)]
    if device.type == "cuda":
        out += [("fp16 + GradScaler", "fp16", False)]
        if torch.cuda.get_device_capability(device)[0] >= 8: out += [("bf16", "bf16", False)]
        out += [(f"{out[-1][0]} + channels_last", out[-1][1], True)]
    elif device.type == "cpu":
        if cpu_has_bf16(): out += [("bf16", "bf16", False)]
        out += [(f"{out[-1][0]} + channels_last", out[-1][1], True)]
    return out


def timed_fit(x, y, device, precision, channels_last, epochs, bs=256, **kw):
    seed_everything(0, deterministic=True)
    model = SimpleCNN(widths=(32, 64, 128))
    dl = TensorLoader(x, y, bs=bs, shuffle=True, seed=0, device=device)
    if device.type == "cuda": torch.cuda.synchronize()
    t0 = time.time()
    hist = fit(model, dl, epochs=epochs, loss_fn=nn.CrossEntropyLoss(), lr=3e-3, device=device, precision=precision,
               channels_last=channels_last, progress=False, **kw)
    if device.type == "cuda": torch.cuda.synchronize()
    return model, hist, time.time() - t0


class StopAfter(Callback):
    "Interrupt (as Ctrl-C would) at the end of epoch `n`: fit checkpoints and returns."
    def __init__(self, n): self.n = n
    def after_epoch(self, run):
        if run.epoch + 1 == self.n: run.interrupt = "SIGINT"


def resume_check(x, y, device, precision):
    "Two epochs straight vs one epoch, stop, resume: the weights must be identical."
    a, _, _ = timed_fit(x, y, device, precision, False, 2)
    with tempfile.TemporaryDirectory() as d:
        timed_fit(x, y, device, precision, False, 2, checkpoint_dir=d, callbacks=[StopAfter(1)])
        b, h, _ = timed_fit(x, y, device, precision, False, 2, checkpoint_dir=d, resume=True)
    same = all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    return same and len(h) == 2


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def pipeline_check(x, y, device, precision, bs=256, steps=20):
    """The share of a training step spent producing the batch (index, move, scale, mirror, normalise), and the images
    per second of the batches alone: `TensorLoader` on the device against a per-item PIL `DataLoader` + `ToTensor`.
    Each part is timed between synchronisations, so the GPU's queue does not hide one part inside the other."""
    from PIL import Image
    import torchvision.transforms as T
    seed_everything(0)
    model = SimpleCNN(widths=(32, 64, 128)).to(device).to(memory_format=torch.channels_last)
    opt, amp = torch.optim.AdamW(model.parameters(), 1e-3), precision in ("bf16", "fp16")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    dl = TensorLoader(x, y, bs=bs, shuffle=True, seed=0, device=device, augment=Augment(flip=0.5), normalize=((0.29,), (0.35,)))
    t_batch = t_step = 0.0
    for i, (xb, yb) in enumerate(dl):   # the loader's own work happens inside next(), timed as t_batch
        if i == steps + 2: break
        sync(device); t1 = time.perf_counter()
        with torch.autocast(device.type, dtype, enabled=amp):
            out = model(xb.contiguous(memory_format=torch.channels_last))
        loss = nn.functional.cross_entropy(out.float(), yb); opt.zero_grad(); loss.backward(); opt.step()
        sync(device); t2 = time.perf_counter()
        if i >= 2: t_batch, t_step = t_batch + (t1 - t0), t_step + (t2 - t1)   # the first two steps warm up
        t0 = t2
    def rate(batches):
        sync(device); t = time.perf_counter(); n = 0
        for xb, _ in batches: xb = xb.to(device, non_blocking=True); n += len(xb)
        sync(device); return n / (time.perf_counter() - t)
    ims = [Image.fromarray(a[0].numpy()) for a in x]
    tf = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.29,), (0.35,))])
    pil = torch.utils.data.DataLoader([(im, int(t)) for im, t in zip(ims, y)], batch_size=bs, shuffle=True,
                                      collate_fn=lambda b: (torch.stack([tf(im) for im, _ in b]), torch.tensor([t for _, t in b])))
    return t_batch / (t_batch + t_step), rate(dl), rate(pil)


def ddp_check(n_gpus, quick):
    "Two epochs of DDP on every visible GPU (torchrun, NCCL); returns (ok, images/s, last lines)."
    script = ROOT/"tools"/"gpu_check.py"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_gpus}", str(script),
           "--ddp-worker"] + (["--quick"] if quick else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "MLCOURSE_PROGRESS": "log"})
    ips = [l.split()[1] for l in r.stdout.splitlines() if l.startswith("ddp-images/s")]
    return r.returncode == 0 and bool(ips), (ips[0] if ips else "-"), (r.stdout + r.stderr)[-800:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ddp-worker", action="store_true")
    a = ap.parse_args()
    n = (1024 if a.quick else 20480) if torch.cuda.is_available() or a.ddp_worker else (1024 if a.quick else 4096)
    x, y, source = data(n)
    device = get_device()
    if a.ddp_worker:
        _, hist, t = timed_fit(x, y, device, "auto", "auto", 2)
        if int(os.environ.get("RANK", 0)) == 0: print(f"ddp-images/s {2 * len(x) / t:.0f}")
        return
    rows = []
    print(f"torch {torch.__version__}; data: {source}, {len(x)} images of 28x28")
    if device.type == "cuda":
        cap = torch.cuda.get_device_capability(device)
        print(f"device: {torch.cuda.get_device_name(device)} (compute capability {cap[0]}.{cap[1]}), "
              f"{torch.cuda.device_count()} visible")
    else:
        print(f"device: {device} -- NO GPU: only the CPU paths below were run; no GPU path was exercised")
    print(f'precision="auto" chooses: {resolve_precision("auto", device)}')
    for name, prec, cl in paths(device):
        timed_fit(x[:512], y[:512], device, prec, cl, 1)            # warm-up (kernels, autotuning)
        _, hist, t = timed_fit(x, y, device, prec, cl, 1)
        rows.append((f"fit 1 epoch, {name}", f"{len(x) / t:,.0f} images/s", f"train_loss {hist.records[-1]['train_loss']:.3f}"))
    ok = resume_check(x[:1024], y[:1024], device, resolve_precision("auto", device))
    rows.append(("checkpoint -> resume", "identical weights" if ok else "WEIGHTS DIFFER", ""))
    share, fast, slow = pipeline_check(x, y, device, resolve_precision("auto", device))
    rows.append(("data: share of a step producing the batch", f"{share:.1%}",
                 "TensorLoader on the device, mirror + normalise, bs 256; the course's goal is 10% or less"))
    rows.append(("data: batches alone, TensorLoader", f"{fast:,.0f} images/s",
                 f"{fast / slow:.0f}x a per-item PIL DataLoader + ToTensor ({slow:,.0f} images/s)"))
    n_gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if n_gpus >= 2:
        ok, ips, tail = ddp_check(n_gpus, a.quick)
        rows.append((f"DDP on {n_gpus} GPUs (torchrun, NCCL)", f"{ips} images/s" if ok else "FAILED", "" if ok else tail))
    else:
        rows.append(("DDP", "not run", "fewer than two GPUs visible"))
    w = max(len(r[0]) for r in rows)
    print(f"\n{'check'.ljust(w)}  {'result':<22}  note\n{'-' * w}  {'-' * 22}  ----")
    for r in rows: print(f"{r[0].ljust(w)}  {r[1]:<22}  {r[2]}")
    if device.type != "cuda": print("\nNo GPU here: run `make gpu-check` on Colab (GPU runtime), Puhti or a GPU desktop.")
    sys.exit(0 if all("DIFFER" not in r[1] and "FAILED" not in r[1] for r in rows) else 1)


if __name__ == "__main__": main()
