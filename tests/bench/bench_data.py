"""Benchmark: the tensor batch pipeline vs a per-item PIL + torchvision-transforms DataLoader, and first vs cached
load of the collage folder. Same images (the collage set), same kinds of augmentation (random resized crop to 60%
of the area, horizontal flip, rotation +-10 degrees, translation +-5%). Prints both ratios.

    python tests/bench/bench_data.py                 # 4,000 images (BENCH_QUICK=1: 2,000)
    MLCOURSE_BENCH_N=20000 python tests/bench/bench_data.py  # the original issue's setting (slow on 2 cores)
"""
import os, sys, time, tempfile, shutil
from pathlib import Path
import torch
import torchvision.transforms as T
from PIL import Image
from mlcourse.core import env_report, record
from mlcourse.data import MultiLabelImageFolder, TensorLoader, Augment
from mlcourse.datasets import make_collage

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("0", "", "false")
N = int(os.environ.get("MLCOURSE_BENCH_N", 2000 if QUICK else 4000))
BS = 128
DEVICE = os.environ.get("MLCOURSE_BENCH_DEVICE", "cpu")


def rate(dl, epochs=1):
    "Images per second over `epochs` passes (after one warm-up batch)."
    next(iter(dl))
    t0 = time.perf_counter(); n = 0
    for _ in range(epochs):
        for xb, _ in dl: n += len(xb)
    if DEVICE.startswith("cuda"): torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


class PilFolder(torch.utils.data.Dataset):
    "The usual pipeline: open the JPEG with PIL, transform with torchvision, one item at a time."
    def __init__(self, paths, targets, tf): self.paths, self.targets, self.tf = paths, targets, tf
    def __len__(self): return len(self.paths)
    def __getitem__(self, i): return self.tf(Image.open(self.paths[i]).convert("RGB")), self.targets[i]


def main():
    env_report(DEVICE)
    t0 = time.perf_counter(); root = make_collage(n=N, seed=0)
    print(f"collage folder ({N} images): {root} (ready in {time.perf_counter() - t0:.1f} s; built once, then cached)")

    # 1. first (decoding) vs cached load of the folder
    cache = Path(tempfile.mkdtemp(prefix="mlcourse-bench-cache-"))
    try:
        t0 = time.perf_counter(); ds = MultiLabelImageFolder(root, cache=cache); t_first = time.perf_counter() - t0
        t0 = time.perf_counter(); ds2 = MultiLabelImageFolder(root, cache=cache); t_cached = time.perf_counter() - t0
        assert ds2.from_cache and torch.equal(ds.images, ds2.images)
    finally: shutil.rmtree(cache, ignore_errors=True)
    print(f"folder load: first {t_first:.2f} s, cached {t_cached:.2f} s")

    # 2. per-item PIL + torchvision vs TensorLoader, same images, same augmentations
    size = ds.images.shape[-1]
    tf = T.Compose([T.RandomResizedCrop(size, scale=(0.6, 1.0)), T.RandomHorizontalFlip(),
                    T.RandomAffine(10, translate=(0.05, 0.05)), T.ToTensor()])
    paths = [root/"images"/f"{name}.jpg" for name in ds.names]
    pil_ds = PilFolder(paths, ds.targets, tf)
    pil = {}
    for workers in (0, 2):
        dl = torch.utils.data.DataLoader(pil_ds, batch_size=BS, shuffle=True, num_workers=workers,
                                         pin_memory=DEVICE.startswith("cuda"))
        pil[workers] = rate(_moved(dl, torch.device(DEVICE)))
        print(f"per-item PIL + torchvision DataLoader, num_workers={workers}: {pil[workers]:,.0f} images/s")
    aug = Augment(crop=0.6, flip=0.5, rotate=10, translate=0.05)
    tl = TensorLoader(ds.images, ds.targets, bs=BS, shuffle=True, augment=aug, device=DEVICE, seed=0)
    ten = rate(tl)
    print(f"TensorLoader + {aug}: {ten:,.0f} images/s")

    best = max(pil.values())
    record("bench_data: TensorLoader / best per-item PIL DataLoader (images/s)", ten / best, "{:.1f}x")
    record("bench_data: first / cached collage folder load", t_first / t_cached, "{:.1f}x")
    print(f"(n={N}, batch {BS}, device {DEVICE}, torch threads {torch.get_num_threads()}; CPU timings depend on "
          "what else runs on the machine)")


class _moved:
    "Iterate a DataLoader and move each batch to the device, as a training loop would."
    def __init__(self, dl, dev): self.dl, self.dev = dl, dev
    def __iter__(self):
        for xb, yb in self.dl: yield xb.to(self.dev, non_blocking=True), yb.to(self.dev, non_blocking=True)


if __name__ == "__main__":
    main()
