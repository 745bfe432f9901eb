"""Which items does each process train on under torchrun? (tests/test_distributed.py)

    torchrun --standalone --nproc_per_node=2 tests/helpers/ddp_probe.py --loader tensor --order shuffle --out DIR
    python tests/helpers/ddp_probe.py ... (one process, for comparison)

Item i is an image whose one pixel is i, so a callback can read the item ids of every batch. Every collective call
is recorded with the device of its tensor. Each process writes DIR/rank<r>.json. With --sleep and --ckpt it is a
slow run that a test can signal; it prints "step <rank> <epoch> <batch>" after each batch and "exit <rank> <status>".
"""
import argparse, json, os, sys, time
from pathlib import Path
import torch
from torch import nn
import torch.distributed as dist
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler, BatchSampler, SequentialSampler

p = argparse.ArgumentParser()
p.add_argument("--loader", choices=["tensor", "dataloader"], default="tensor")
p.add_argument("--order", choices=["sequential", "shuffle", "weighted", "rare", "batch_sampler"], default="shuffle")
p.add_argument("--items", type=int, default=40)
p.add_argument("--bs", type=int, default=4)
p.add_argument("--epochs", type=int, default=2)
p.add_argument("--out", required=True)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--ckpt", default=None)
p.add_argument("--resume", action="store_true")
a = p.parse_args()
torch.set_num_threads(1)

from mlcourse.core import seed_everything
from mlcourse.data import TensorLoader, RareLabelSampler
from mlcourse.train import fit, Callback
seed_everything(0)

calls = []
def recording(name, fn):
    def wrapper(*args, **kw):
        ts = args[0] if isinstance(args[0], list) else [args[0]]
        if name == "all_gather": ts = ts + [args[1]]
        calls.append([name, sorted({str(t.device) for t in ts})])
        return fn(*args, **kw)
    return wrapper
for name in ("broadcast", "all_reduce", "all_gather"): setattr(dist, name, recording(name, getattr(dist, name)))

n = a.items
x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1)
y = torch.arange(n) % 3
weights = (torch.arange(n) % 2 == 0).float()                     # odd items are never drawn
g = lambda: torch.Generator().manual_seed(7)
if a.loader == "tensor":
    sampler = {"weighted": WeightedRandomSampler(weights, n, generator=g()),
               "rare": RareLabelSampler(torch.nn.functional.one_hot(y, 3) * (y != 1)[:, None], seed=7)}.get(a.order)
    train_dl = TensorLoader(x, y, bs=a.bs, shuffle=a.order == "shuffle", sampler=sampler, seed=5, device="cpu")
    valid_dl = TensorLoader(x, y, bs=6, device="cpu")
else:
    ds = TensorDataset(x, y)
    if a.order == "batch_sampler": train_dl = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), a.bs, False))
    elif a.order == "weighted": train_dl = DataLoader(ds, batch_size=a.bs, sampler=WeightedRandomSampler(weights, n, generator=g()))
    else: train_dl = DataLoader(ds, batch_size=a.bs, shuffle=a.order == "shuffle", generator=g())
    valid_dl = DataLoader(ds, batch_size=6)

def say(line): os.write(1, (line + "\n").encode())   # one write: lines of the two processes never interleave

seen, model = [], nn.Sequential(nn.Flatten(), nn.Linear(1, 3))
class Record(Callback):
    def before_epoch(self, run): seen.append([])
    def after_batch(self, run):
        say(f"step {run.rank} {run.epoch} {run.batch}")
        if a.sleep: time.sleep(a.sleep)
class Ids(nn.Module):   # records the item ids the model sees in training
    def __init__(self): super().__init__(); self.model = model
    def forward(self, xb):
        if self.training: seen[-1].extend(xb.flatten().round().long().tolist())
        return self.model(xb)

def acc(preds, targets): return (preds.argmax(1) == targets).float().mean()
rank = int(os.environ.get("RANK", 0))
try:
    hist = fit(Ids(), train_dl, valid_dl, epochs=a.epochs, loss_fn=nn.CrossEntropyLoss(), lr=1e-2, metrics=[acc],
               device="cpu", precision="fp32", progress=False, callbacks=[Record()], checkpoint_dir=a.ckpt, resume=a.resume)
except SystemExit as e:
    say(f"exit {rank} {e.code}"); raise
Path(a.out).mkdir(parents=True, exist_ok=True)
json.dump({"rank": rank, "epochs": seen, "calls": calls, "records": hist.records},
          open(Path(a.out)/f"rank{rank}.json", "w"))
say(f"exit {rank} 0")
