"""A tiny, deterministic training run for the reliability tests (run as a separate process, killed and signalled).

    python tests/helpers/train_worker.py --ckpt DIR --out weights.pt [--resume] [--epochs 4] [--sleep 0.01]
    torchrun --standalone --nproc_per_node=2 tests/helpers/train_worker.py --ddp --out metrics.json

It prints one line per batch to stdout ("batch <epoch> <batch>") so that a test can tell where training is.
"""
import argparse, json, os, sys, time
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

p = argparse.ArgumentParser()
p.add_argument("--ckpt", default=None)
p.add_argument("--out", required=True)
p.add_argument("--resume", action="store_true")
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep after each batch (to give a test time to act)")
p.add_argument("--loader", default="dataloader", choices=["dataloader", "tensorloader"])
p.add_argument("--ddp", action="store_true", help="the DDP comparison: no shuffling, no dropout; write validation metrics")
p.add_argument("--bs", type=int, default=16)
p.add_argument("--early-stop", type=int, default=None, help="patience; writes <out>.json with the epochs run and the best epoch")
p.add_argument("--noisy-valid", action="store_true", help="random validation labels, so the validation loss soon rises")
a = p.parse_args()

torch.set_num_threads(1)
from mlcourse.core import seed_everything
from mlcourse.train import fit, Callback
seed_everything(0, deterministic=True)

g = torch.Generator().manual_seed(1)
n, d = 384, 12
x = torch.randn(n + 128, 1, 4, d // 4 * 1, generator=g)            # small "images" (1, 4, 3)
w = torch.randn(x[0].numel(), generator=g)
y = ((x.flatten(1) @ w) > 0).long()
xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
if a.noisy_valid: yv = torch.randint(0, 2, (len(xv),), generator=g)

if a.loader == "tensorloader":
    from mlcourse.data import TensorLoader, Augment
    train_dl = TensorLoader(xt, yt, bs=a.bs, shuffle=True, seed=5, device="cpu", augment=lambda xb: xb + 0.05 * torch.randn_like(xb))
    valid_dl = TensorLoader(xv, yv, bs=64, device="cpu")
else:
    train_dl = DataLoader(TensorDataset(xt, yt), batch_size=a.bs, shuffle=not a.ddp)
    valid_dl = DataLoader(TensorDataset(xv, yv), batch_size=50)

layers = [nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * x[0, 0].numel(), 16), nn.ReLU()]
if not a.ddp: layers.append(nn.Dropout(0.2))
model = nn.Sequential(*layers, nn.Linear(16, 2))

class Tell(Callback):
    def after_batch(self, run):
        print(f"batch {run.epoch} {run.batch}", flush=True)
        if a.sleep: time.sleep(a.sleep)

def acc(preds, targets): return (preds.argmax(1) == targets).float().mean()

hist = fit(model, train_dl, valid_dl, epochs=a.epochs, loss_fn=nn.CrossEntropyLoss(), lr=3e-3, metrics=[acc],
           checkpoint_dir=a.ckpt, resume=a.resume, device="cpu", precision="fp32", channels_last=False,
           progress=False, callbacks=[Tell()], sched="onecycle", early_stop=a.early_stop)
rank = int(os.environ.get("RANK", 0))
if rank == 0:
    if a.ddp: json.dump(hist.records[-1], open(a.out, "w"))
    else: torch.save({k: v.clone() for k, v in model.state_dict().items()}, a.out)
    if a.early_stop: json.dump({"epochs": len(hist), "best_epoch": hist.best_epoch}, open(f"{a.out}.json", "w"))
print("done", flush=True)
