"""Fashion-MNIST with `SimpleCNN`: an example script for slurm/train_gpu.sh and slurm/train_ddp.sh.

    sbatch slurm/train_gpu.sh slurm/train_fashion.py --epochs 30
    MLCOURSE_QUICK=1 python slurm/train_fashion.py        # a tiny run (what tests/test_slurm.py trains)

Checkpoints go to $MLCOURSE_CHECKPOINT_DIR (the batch scripts set it to /scratch/<project>/$USER/mlcourse-runs/<job
id>, the same folder after a requeue), and `resume=True` continues from its last.pt.
"""
import argparse, os
from torch import nn
from mlcourse.core import by_mode, data_dir, seed_everything
from mlcourse.data import TensorLoader
from mlcourse.datasets import fashion_mnist, fashion_mnist_dir
from mlcourse.models import SimpleCNN
from mlcourse.train import fit

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--epochs", type=int, default=by_mode(2, 20))
ap.add_argument("--bs", type=int, default=by_mode(32, 256))
ap.add_argument("--lr", type=float, default=3e-3)
a = ap.parse_args()

seed_everything(0)
ckpt = os.environ.get("MLCOURSE_CHECKPOINT_DIR") or data_dir("runs", "local")
x, y = fashion_mnist("train"); xt, yt = fashion_mnist("test")
n = by_mode(1536, len(x))                   # quick mode: a small subset
x, y, xt, yt = x[:n], y[:n], xt[:n // 4], yt[:n // 4]
if os.environ.get("RANK", "0") == "0":
    print(f"train_fashion: {len(x)} training images from {fashion_mnist_dir()}, {os.environ.get('WORLD_SIZE', 1)} "
          f"process(es), TORCH_HOME={os.environ.get('TORCH_HOME')}, checkpoints in {ckpt}", flush=True)
train_dl = TensorLoader(x, y, bs=a.bs, shuffle=True, seed=0)
valid_dl = TensorLoader(xt, yt, bs=512)
model = SimpleCNN(widths=by_mode((16, 32), (32, 64, 128)))
hist = fit(model, train_dl, valid_dl, epochs=a.epochs, loss_fn=nn.CrossEntropyLoss(), lr=a.lr,
           checkpoint_dir=ckpt, resume=True)
if os.environ.get("RANK", "0") == "0":
    print(f"train_fashion: done, {len(hist.records)} epochs, last valid_loss {hist.records[-1]['valid_loss']:.4f}", flush=True)
