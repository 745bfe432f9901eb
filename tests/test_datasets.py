"mlcourse.datasets: Fashion-MNIST (search, checksum, offline error), the collage set, multi-digit canvases."
import gzip, json, shutil, time
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
import mlcourse.datasets as D
from mlcourse.datasets import (fashion_mnist, FASHION_CLASSES, FASHION_LABELS, make_collage, folder_checksum,
                               make_multidigit, MultiDigit, positional_onehot)
from mlcourse.data import MultiLabelImageFolder


# ---- Fashion-MNIST ----------------------------------------------------------------------------------------

def test_fashion_mnist_shapes_and_cache():
    x, y = fashion_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1000] * 10 and len(FASHION_CLASSES) == 10
    t0 = time.perf_counter(); x2, _ = fashion_mnist("test"); assert time.perf_counter() - t0 < 0.5
    x2[0] = 0                                               # a caller's change does not reach the cache
    assert torch.equal(fashion_mnist("test")[0][0], x[0])
    with pytest.raises(ValueError, match="split must be"):
        fashion_mnist("validation")


def _isolate(monkeypatch, tmp_path):
    "Point the search at an empty data folder and a missing system folder; downloads fail like offline."
    monkeypatch.setenv("MLCOURSE_DATA", str(tmp_path/"data"))
    monkeypatch.setattr(D, "FASHION_SYSTEM_DIR", tmp_path/"no-system-copy")
    def offline(dest): raise OSError("Temporary failure in name resolution")
    monkeypatch.setattr(D, "_download_fashion_mnist", offline)


def test_fashion_mnist_offline_error(monkeypatch, tmp_path):
    _isolate(monkeypatch, tmp_path)
    with pytest.raises(RuntimeError) as e:
        fashion_mnist("train")
    msg = str(e.value)
    assert "dataset-fashion-mnist" in msg and str(tmp_path/"data"/"fashion-mnist") in msg and "t10k-labels-idx1-ubyte.gz" in msg


def test_fashion_mnist_checksum_mismatch(monkeypatch, tmp_path):
    src = D.fashion_mnist_dir()
    _isolate(monkeypatch, tmp_path)
    dest = tmp_path/"data"/"fashion-mnist"; dest.mkdir(parents=True)
    for f in src.glob("*.gz"): shutil.copy(f, dest/f.name)
    raw = bytearray(gzip.decompress((dest/"t10k-labels-idx1-ubyte.gz").read_bytes())); raw[100] ^= 1
    (dest/"t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    assert D.fashion_mnist_dir() == dest                     # the data folder comes first in the search
    with pytest.raises(ValueError, match="Checksum mismatch for .*t10k-labels"):
        fashion_mnist("test")
    (dest/"t10k-images-idx3-ubyte.gz").write_bytes((dest/"t10k-images-idx3-ubyte.gz").read_bytes()[:5000])
    with pytest.raises(ValueError, match="damaged or incomplete"):
        D.read_idx(dest/"t10k-images-idx3-ubyte.gz")


# ---- collage ----------------------------------------------------------------------------------------------

def _annotations(root):
    return {p.stem: set(map(int, p.read_text().split())) for p in (Path(root)/"annotations").glob("*.txt")}


def test_collage_layout_determinism_and_reader(tmp_path):
    a = make_collage(tmp_path/"a", n=300, seed=5)
    b = make_collage(tmp_path/"b", n=300, seed=5)
    assert folder_checksum(a) == folder_checksum(b)                     # same seed, same bytes
    assert folder_checksum(make_collage(tmp_path/"c", n=300, seed=6)) != folder_checksum(a)
    ds = MultiLabelImageFolder(a, cache=False)
    assert ds.labels == sorted(FASHION_LABELS) and ds.images.shape == (300, 3, 64, 64) and ds.problems() == []
    meta = json.loads((a/"collage.json").read_text())
    assert dict(zip(ds.labels, ds.targets.sum(0).long().tolist())) == meta["label_counts"]
    t0 = time.perf_counter(); make_collage(tmp_path/"a", n=300, seed=5); assert time.perf_counter() - t0 < 0.5
    (tmp_path/"junk").mkdir(); (tmp_path/"junk"/"x.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a collage folder"):
        make_collage(tmp_path/"junk", n=10)


def test_collage_missing_labels_recorded(tmp_path):
    full = _annotations(make_collage(tmp_path/"full", n=400, seed=2))
    root = make_collage(tmp_path/"miss", n=400, seed=2, missing=0.25)
    kept, removed = _annotations(root), pd.read_csv(root/"removed_labels.csv")
    total = sum(map(len, full.values()))
    assert abs(len(removed) - 0.25 * total) <= 1
    for lab in FASHION_LABELS:
        gone = {int(s[2:-4]) for s in removed.image[removed.label == lab]}
        assert kept[lab] | gone == full[lab] and not kept[lab] & gone   # annotations + removed = the truth


def test_collage_statistics_and_sources(tmp_path, monkeypatch):
    root = make_collage(tmp_path/"big", n=3000, seed=0)
    meta = json.loads((root/"collage.json").read_text())
    counts = sorted(meta["label_counts"].values())
    assert counts[-1] >= 30 * max(counts[0], 1)                          # the rarest label >= 30x rarer
    assert 0.45 <= meta["unlabeled_images"] / 3000 <= 0.55               # about half without a label
    seen = []
    real = D.fashion_mnist
    monkeypatch.setattr(D, "fashion_mnist", lambda split="train": seen.append(split) or real(split))
    make_collage(tmp_path/"t", n=20, split="test"); make_collage(tmp_path/"r", n=20, split="train")
    assert seen == ["test", "train"]                                    # test items from FM test, train from FM train


# ---- multi-digit --------------------------------------------------------------------------------------------

def test_multidigit_labels_and_pools():
    md = make_multidigit(500, seed=1)
    assert md.images.shape == (500, 1, 64, 64) and md.images.dtype == torch.uint8
    assert set(md.n_digits.tolist()) == {1, 2, 3, 4, 5}
    has = md.positional < 10
    assert (has[:, :-1] >= has[:, 1:]).all()                            # filled from the left, no gaps
    assert torch.equal(md.max_digit, torch.where(has, md.positional, -1).amax(1))
    assert torch.equal(md.digit_set.sum(1), torch.tensor([len(set(r[r < 10].tolist())) for r in md.positional], dtype=torch.float))
    assert torch.equal(make_multidigit(30, seed=4).images, make_multidigit(30, seed=4).images)
    pools = D.digit_pools()
    assert not set(pools["train"][0]) & set(pools["test"][0]) and len(pools["train"][0]) + len(pools["test"][0]) == 1797
    oh = positional_onehot(md.positional)
    assert oh.shape == (500, 55) and torch.equal(oh.view(-1, 5, 11).argmax(-1), md.positional)


def test_multidigit_left_to_right_no_overlap(monkeypatch):
    # replace the digits by solid squares whose grey value identifies the pool item: then every square can be found
    n_items = 200
    lab = np.arange(n_items) % 10
    scaled = {s: np.stack([np.full((s, s), 40 + i, np.uint8) for i in range(n_items)]) for s in D.DIGIT_SIZES}
    monkeypatch.setattr(D, "digit_pools", lambda **kw: {"train": (np.arange(n_items), lab, scaled)})
    md = make_multidigit(300, seed=0)
    checked = 0
    for im, pos in zip(md.images[:, 0].numpy(), md.positional.numpy()):
        vals = [v for v in np.unique(im) if v]
        if len(vals) != (pos < 10).sum(): continue                       # the same item twice: cannot be told apart
        checked += 1
        centres = []
        for v in vals:
            ys, xs = np.nonzero(im == v)
            assert len(ys) == (np.ptp(ys) + 1) * (np.ptp(xs) + 1)             # a full square: nothing drawn over it
            centres.append((xs.mean(), (v - 40) % 10))
        got = [d for _, d in sorted(centres)]
        assert got == [d for d in pos if d < 10]
        xc = sorted(c for c, _ in centres)
        assert all(b - a >= 9.5 for a, b in zip(xc, xc[1:]))               # centres clearly apart
    assert checked > 250


def test_multidigit_kaggle_layout(tmp_path):
    md = make_multidigit(40, split="test", seed=2)
    md.save(tmp_path, "test")
    assert (tmp_path/"test_x.npy").is_file() and (tmp_path/"test_y.csv").read_text().startswith("Id,Label\n0,")
    back = MultiDigit.load(tmp_path, "test")
    assert torch.equal(back.images, md.images) and torch.equal(back.positional, md.positional)
    np.save(tmp_path/"test_x.npy", md.images[:39, 0].numpy())
    with pytest.raises(ValueError, match="39 images but .* 40 labels"):
        MultiDigit.load(tmp_path, "test")


def test_multidigit_small_canvas_draws_again_instead_of_failing():
    "On a 40x40 canvas a digit can find no free height beside its neighbour; the canvas is drawn again, not an error."
    from mlcourse.datasets import make_multidigit
    d = make_multidigit(300, "train", seed=0, size=40, max_digits=3)
    k = (d.positional != 10).sum(1)
    assert d.images.shape == (300, 1, 40, 40) and set(k.tolist()) == {1, 2, 3}
    assert all((row[:n] != 10).all() and (row[n:] == 10).all() for row, n in zip(d.positional, k.tolist()))
    assert (d.images.flatten(1).amax(1) > 0).all()   # every canvas has ink
