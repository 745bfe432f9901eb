"mlcourse.data: the multi-label folder reader (bad data, cache), splits, statistics, TensorLoader, Augment, sampler."
import os, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from mlcourse.data import (MultiLabelImageFolder, make_messy_folder, split_indices, label_stats, cooccurrence,
                           TensorLoader, Augment, RareLabelSampler, show_batch, channel_stats, plot_label_freq,
                           plot_cooccurrence)


# ---- the multi-label folder -------------------------------------------------------------------------------

@pytest.fixture
def messy(tmp_path):
    "A folder with every kind of bad data: truncated and corrupt JPEGs, stray files, a missing image, a malformed line, duplicates, an empty file, mixed sizes and modes."
    return make_messy_folder(tmp_path/"messy")


def load(root, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = MultiLabelImageFolder(root, **kw)
    return ds, [str(x.message) for x in w]


def test_messy_folder_strict_names_file_and_line(messy):
    with pytest.raises(ValueError, match=r"river\.txt, line 2: 'four' is not an image number"):
        MultiLabelImageFolder(messy, cache=False)


def test_messy_folder_every_problem_reported(messy):
    ds, warns = load(messy, strict=False, cache=False)
    r = ds.report
    assert [n for n in ds.names] == [f"im{i}" for i in range(1, 11)]          # im11 truncated, im12 corrupt: left out
    assert sorted(c.split(":")[0] for c in r["corrupt"]) == ["images/im11.jpg", "images/im12.jpg"]
    assert r["bad_lines"] == ["river.txt:2: 'four'"]
    assert r["missing_images"] == ["tree.txt:3: im99 does not exist"]       # im11 (corrupt) is not counted again
    assert r["duplicates"] == ["dog.txt: 1 repeated line(s)"]
    assert r["empty_labels"] == ["car"]
    assert sorted(r["stray_files"]) == ["annotations/README", "images/.DS_Store", "images/notes.txt", "images/photo.jpg"]
    assert r["resized"] == 1 and ds.images.shape == (10, 3, 24, 24) and ds.images.dtype == torch.uint8
    assert len(warns) == 1 and "2 corrupt" in warns[0] and "im99" in warns[0] and "stray" in warns[0]
    # labels: sorted file names; the label matrix from the good lines only
    assert ds.labels == ["car", "dog", "river", "tree"]
    col = {l: ds.targets[:, j].nonzero().flatten().tolist() for j, l in enumerate(ds.labels)}
    assert col == {"car": [], "dog": [0, 1, 8], "river": [3, 4], "tree": [2, 9]}


def test_messy_modes_and_sizes(messy):
    ds, _ = load(messy, strict=False, cache=False, mode="L", size=(12, 16))
    assert ds.images.shape == (10, 1, 12, 16) and ds.report["resized"] == 10
    x, y = ds[0]
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and y.shape == (4,)


def test_missing_folders_and_labels(tmp_path):
    (tmp_path/"a"/"images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="annotations is missing"):
        MultiLabelImageFolder(tmp_path/"a")
    (tmp_path/"a"/"annotations").mkdir()
    with pytest.raises(FileNotFoundError, match="no <label>.txt"):
        MultiLabelImageFolder(tmp_path/"a", cache=False)
    with pytest.raises(FileNotFoundError, match="images is missing"):
        MultiLabelImageFolder(tmp_path/"nothing")


def test_labels_given_and_drop_unlabeled(messy):
    ds, warns = load(messy, labels=["tree", "dog"], strict=False, drop_unlabeled=True, cache=False)
    assert ds.labels == ["tree", "dog"] and ds.report["ignored_annotations"] == ["car", "river"]
    assert ds.names == ["im1", "im2", "im3", "im9", "im10"] and ds.report["dropped_unlabeled"] == 5
    assert (ds.targets.sum(1) > 0).all()
    with pytest.raises(FileNotFoundError, match=r"label\(s\) \['cat'\]"):
        MultiLabelImageFolder(messy, labels=["cat"], cache=False)


def test_decode_once_cache(messy, tmp_path):
    cdir = tmp_path/"cache"
    a, _ = load(messy, strict=False, cache=cdir)
    b, warns = load(messy, strict=False, cache=cdir)
    assert not a.from_cache and b.from_cache and torch.equal(a.images, b.images)
    assert b.report["corrupt"] == a.report["corrupt"] and len(warns) == 1   # problems still reported from the cache
    # other mode: another cache entry; a changed file: a stale cache
    assert not load(messy, strict=False, cache=cdir, mode="L")[0].from_cache
    Image.new("RGB", (24, 24), (255, 0, 0)).save(messy/"images"/"im3.jpg")
    c, _ = load(messy, strict=False, cache=cdir)
    assert not c.from_cache and not torch.equal(c.images[2], a.images[2])
    # a damaged cache file is rebuilt, not trusted
    Path(c.cache_file).write_bytes(b"garbage")
    d, _ = load(messy, strict=False, cache=cdir)
    assert not d.from_cache and torch.equal(d.images, c.images)


# ---- splits and statistics --------------------------------------------------------------------------------

@pytest.fixture
def y():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(3000, 8, generator=g) < torch.tensor([.4, .3, .2, .1, .05, .02, .01, .004])).float()


def test_split_multilabel_stratified(y):
    tr, va, te = split_indices(y, valid=0.15, test=0.15, seed=3)
    assert torch.equal(torch.cat([tr, va, te]).sort().values, torch.arange(len(y)))
    for part, share in ((tr, .7), (va, .15), (te, .15)):
        assert abs(len(part) - share * len(y)) <= 0.01 * len(y)
        # every label, the rarest (12 images) too, gets its share within one image or 10%
        want, got = share * y.sum(0), y[part].sum(0)
        assert ((got - want).abs() <= torch.maximum(torch.ones(8) * 1.01, 0.1 * want)).all(), (got, want)
    assert torch.equal(split_indices(y, valid=0.15, test=0.15, seed=3)[1], va)


def test_split_classes_and_n():
    t = torch.arange(1000) % 4
    tr, va, te = split_indices(t, valid=0.2, test=0.2, seed=0)
    assert torch.bincount(t[va]).tolist() == [50] * 4 and torch.bincount(t[te]).tolist() == [50] * 4
    parts = split_indices(57, valid=0.1, test=0.0)
    assert len(parts[2]) == 0 and len(parts[0]) + len(parts[1]) == 57
    with pytest.raises(ValueError, match="valid \\+ test < 1"):
        split_indices(10, valid=0.5, test=0.5)


def test_label_stats_and_plots(y):
    names = list("abcdefgh")
    st = label_stats(y, names)
    assert st["count"].tolist() == sorted(y.sum(0).long().tolist(), reverse=True)
    assert st.attrs["unlabeled"] == int((y.sum(1) == 0).sum())
    c = cooccurrence(y, normalize=False)
    assert torch.equal(c.diag(), y.sum(0)) and torch.equal(c, c.T)
    with pytest.raises(ValueError, match="label names"):
        label_stats(y, ["a"])


def test_label_plots_draw_the_counts(y):
    "plot_label_freq: one bar per label (commonest on top) and one for unlabeled images, each with its count written."
    names = list("abcdefgh")
    counts, unlabeled = y.sum(0).long().tolist(), int((y.sum(1) == 0).sum())
    fig = plot_label_freq(y, names)
    ax, = fig.axes
    bars = [(t.get_text(), int(b.get_width())) for t, b in zip(ax.get_yticklabels(), ax.patches)]
    assert bars == [("(no label)", unlabeled)] + sorted(zip(names, counts), key=lambda nc: nc[1])
    assert [t.get_text() for t in ax.texts] == [f" {v}" for _, v in bars]
    assert ax.get_xlabel() == "images" and ax.get_title() == f"{len(y)} images, {y.sum(1).mean():.2f} labels per image"
    # plot_cooccurrence: P(column | row) as the colours and the numbers, diagonal blank; counts when not normalised
    fig = plot_cooccurrence(y, names)
    ax = fig.axes[0]
    shown, want = ax.images[0].get_array(), cooccurrence(y).numpy()
    off = ~np.eye(8, dtype=bool)
    assert (np.ma.getmaskarray(shown) == ~off).all()  # the diagonal is blank
    np.testing.assert_allclose(np.ma.getdata(shown)[off], want[off], rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == [t.get_text() for t in ax.get_yticklabels()] == names
    assert [t.get_text() for t in ax.texts] == [f"{want[i, j]:.2f}" for i in range(8) for j in range(8) if i != j]
    assert ax.get_title() == "P(column label | row label)"
    ax = plot_cooccurrence(y, names, normalize=False).axes[0]
    c = cooccurrence(y, normalize=False)
    assert [t.get_text() for t in ax.texts] == [str(int(c[i, j])) for i in range(8) for j in range(8) if i != j]
    assert ax.get_title() == "images with both labels"



# ---- TensorLoader and Augment ----------------------------------------------------------------------------

def test_tensor_loader_basics():
    ims = torch.randint(0, 256, (103, 3, 8, 8), dtype=torch.uint8); t = torch.arange(103)
    dl = TensorLoader(ims, t, bs=10, device="cpu")
    assert len(dl) == 11 and len(dl.dataset) == 103 and len(TensorLoader(ims, t, bs=10, drop_last=True)) == 10
    xs, ys = zip(*dl)
    assert torch.equal(torch.cat(ys), t) and torch.allclose(torch.cat(xs), ims.float() / 255)
    sh = [torch.cat([yb for _, yb in TensorLoader(ims, t, bs=10, shuffle=True, seed=5)]) for _ in range(2)]
    assert torch.equal(sh[0], sh[1]) and not torch.equal(sh[0], t) and sorted(sh[0].tolist()) == t.tolist()
    mean, std = channel_stats(ims)
    xb, _ = next(iter(TensorLoader(ims, t, bs=103, normalize=(mean, std))))
    assert torch.allclose(xb.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    with pytest.raises(ValueError, match="not both"):
        TensorLoader(ims, t, shuffle=True, sampler=range(3))
    with pytest.raises(ValueError, match="same length"):
        TensorLoader(ims, t[:5])


def test_tensor_loader_from_pil_dataset():
    class PilDs(torch.utils.data.Dataset):   # like a torchvision dataset without a transform
        def __len__(self): return 7
        def __getitem__(self, i): return Image.new("L", (5, 4), i * 10), i
    dl = TensorLoader.from_dataset(PilDs(), bs=7)
    xb, yb = next(iter(dl))
    assert xb.shape == (7, 1, 4, 5) and torch.allclose(xb[:, 0, 0, 0], torch.arange(7) * 10 / 255) and yb.tolist() == list(range(7))


def test_augment_properties():
    xb = torch.rand(32, 3, 20, 28)
    assert torch.allclose(Augment()(xb), xb)
    assert torch.allclose(Augment(flip=1.0)(xb), xb.flip(-1), atol=1e-5)
    out = Augment(rotate=40, shear=15, translate=0.1, scale=0.2, crop=0.5, flip=0.5)(xb)
    per_image = (out - xb).abs().mean((1, 2, 3))
    assert out.shape == xb.shape and per_image.min() > 0 and per_image.std() > 0      # each image its own draw
    g = lambda: torch.Generator().manual_seed(0)
    aug = Augment.photos(noise=0.1, salt_pepper=0.1, cutout=0.3, cutout_p=1.0)
    assert torch.equal(aug(xb, generator=g()), aug(xb, generator=g()))
    sp = Augment(salt_pepper=0.5)(torch.full((8, 1, 30, 30), 0.5))
    assert ((sp == 0) | (sp == 1)).float().mean() > 0.1 and (sp == 0.5).any()
    co = Augment(cutout=0.5, cutout_p=1.0)(torch.ones(8, 1, 20, 20))
    holes = (co == 0).sum((1, 2, 3))
    assert (holes > 0).all() and (holes <= 100).all()                                 # at most a 10x10 square
    assert "flip" not in repr(Augment.digits()) and Augment.digits().flip == 0 == Augment.digits().vflip
    with pytest.raises(TypeError, match="float batch"):
        Augment(flip=1.0)(torch.zeros(2, 1, 4, 4, dtype=torch.uint8))


def test_loader_augment_seeded():
    ims = torch.randint(0, 256, (40, 1, 16, 16), dtype=torch.uint8); t = torch.zeros(40)
    runs = [torch.cat([x for x, _ in TensorLoader(ims, t, bs=16, augment=Augment.digits(), seed=7)]) for _ in range(2)]
    assert torch.equal(runs[0], runs[1]) and not torch.allclose(runs[0], ims.float() / 255)


# ---- sampler and show_batch -----------------------------------------------------------------------------

def test_rare_label_sampler(y):
    s = RareLabelSampler(y, seed=0)
    idx = torch.tensor(list(s))
    assert len(idx) == len(y) and y[idx].mean(0)[-1] > 5 * y.mean(0)[-1]
    assert RareLabelSampler(y, power=0.0).weights.unique().tolist() == [1.0]
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(y), batch_size=100, sampler=RareLabelSampler(y, seed=0))
    assert torch.equal(torch.cat([b[0] for b in dl]), y[idx])



def test_rare_label_sampler_is_torchs_weighted_sampler(y):
    "The same draws as WeightedRandomSampler with its weights, and a generator the resume code finds and restores."
    from mlcourse.train import rng_state, set_rng_state
    s = RareLabelSampler(y, power=0.5, num_samples=300, seed=3)
    assert isinstance(s, torch.utils.data.WeightedRandomSampler) and s.replacement and len(s) == 300
    wrs = torch.utils.data.WeightedRandomSampler(s.weights, 300, generator=torch.Generator().manual_seed(3))
    ours, theirs = [list(s) for _ in range(2)], [list(wrs) for _ in range(2)]
    assert ours == theirs and ours[0] != ours[1]  # torch's draws, epoch by epoch, new ones each epoch
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(y), batch_size=64, sampler=RareLabelSampler(y, seed=4))
    state = rng_state(dl)
    assert "sampler.generator" in state["loader"]
    first = torch.cat([b[0] for b in dl])
    assert not torch.equal(torch.cat([b[0] for b in dl]), first)  # the next epoch draws other images
    set_rng_state(state, dl)
    assert torch.equal(torch.cat([b[0] for b in dl]), first)      # restored: the same epoch again
    tl = TensorLoader(torch.zeros(len(y), 1, 2, 2), y, bs=64, sampler=RareLabelSampler(y, seed=4), device="cpu")
    st = tl.state_dict()
    assert set(st) == {"sampler"}
    first = torch.cat([yb for _, yb in tl])
    tl.load_state_dict(st)
    assert torch.equal(torch.cat([yb for _, yb in tl]), first)


def test_show_batch():
    fig = show_batch(torch.randn(5, 3, 8, 8), torch.eye(5)[:, :3], ["a", "b", "c"], preds=torch.eye(5)[:, :3], ncols=5)
    assert [a.get_title() for a in fig.axes][:2] == ["a\npred: a", "b\npred: b"]
