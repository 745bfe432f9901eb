"""mlcourse.confusion (lesson 09) and mlcourse.interpret (lesson 10, which re-exports it): confusion counts against
scikit-learn, error tables, top losses, missing-label detection, plots to PNG."""
import numpy as np, pandas as pd, pytest, torch
import torch.nn as nn, torch.nn.functional as F
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn import metrics as skm
from mlcourse.interpret import (confusion_matrix, plot_confusion_matrix, label_confusion, plot_label_confusion,
                                most_confused, error_table, most_wrong_images, item_losses, top_losses,
                                plot_top_losses, likely_missing_labels, apply_relabels, plot_history)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _multiclass(n=300, c=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g)


def _multilabel(n=400, L=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    Y = (torch.rand(n, L, generator=g) < torch.linspace(0.5, 0.05, L)).float()
    P = 0.4 * Y + 0.55 * torch.rand(n, L, generator=g)                # some errors of both kinds
    return P, Y


# --- confusion counts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_confusion_matches_sklearn(seed):
    scores, y = _multiclass(seed=seed)
    expected = skm.confusion_matrix(y.numpy(), scores.argmax(1).numpy(), labels=range(7))
    np.testing.assert_array_equal(confusion_matrix(scores, y).numpy(), expected)
    np.testing.assert_array_equal(confusion_matrix(scores.argmax(1), y, n_classes=7).numpy(), expected)
    np.testing.assert_array_equal(confusion_matrix(scores.numpy(), y.tolist()).numpy(), expected)  # arrays, lists


def test_multiclass_confusion_absent_class_and_bad_index():
    y, p = torch.tensor([0, 0, 2, 2]), torch.tensor([0, 2, 2, 2])
    cm = confusion_matrix(p, y, n_classes=4)
    np.testing.assert_array_equal(cm.numpy(), skm.confusion_matrix(y, p, labels=range(4)))
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix(torch.tensor([0, 5]), torch.tensor([0, 1]), n_classes=3)
    with pytest.raises(ValueError, match="same order"):
        confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1]))


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_multilabel_confusion_matches_sklearn(threshold):
    P, Y = _multilabel()
    expected = skm.multilabel_confusion_matrix(Y.int().numpy(), (P >= threshold).int().numpy())
    np.testing.assert_array_equal(confusion_matrix(P, Y, threshold=threshold).numpy(), expected)
    logits = torch.logit(P.clamp(1e-4, 1 - 1e-4))
    got = confusion_matrix(logits, Y, threshold=threshold, from_logits=True).numpy()
    np.testing.assert_array_equal(got, skm.multilabel_confusion_matrix(Y.int(), (torch.sigmoid(logits) >= threshold).int()))


def test_multilabel_shape_and_values_checked():
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(torch.rand(4, 3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="0/1"):
        confusion_matrix(torch.rand(4, 3), torch.full((4, 3), 2.0))


def test_label_confusion_counts_swaps():
    P, Y = _multilabel(seed=3)
    yes, t = (P >= 0.5).numpy(), Y.bool().numpy()
    m = label_confusion(P, Y).numpy()
    m_all = label_confusion(P, Y, only_missed=False).numpy()
    for i in range(5):
        for j in range(5):
            if i == j: continue
            assert m[i, j] == (t[:, i] & ~yes[:, i] & yes[:, j] & ~t[:, j]).sum()
            assert m_all[i, j] == (t[:, i] & yes[:, j] & ~t[:, j]).sum()
    assert np.diag(m).sum() == 0 and (m <= m_all).all()


def test_most_confused_multiclass_and_multilabel():
    scores, y = _multiclass(n=2000, c=5, seed=4)
    pred = scores.argmax(1)
    flip = (y == 1) & (torch.rand(len(y), generator=torch.Generator().manual_seed(0)) < 0.6)
    pred[flip] = 3                                                   # plant 1 -> 3 confusion
    df = most_confused(pred, y, list("abcde"), k=None)
    cm = skm.confusion_matrix(y, pred, labels=range(5)); np.fill_diagonal(cm, 0)
    assert (df.iloc[0]["true"], df.iloc[0]["predicted"]) == ("b", "d")
    assert df["count"].tolist() == sorted(cm[cm > 0].tolist(), reverse=True)
    assert df.iloc[0]["share_of_true"] == pytest.approx(cm[1, 3] / (y == 1).sum().item(), abs=1e-3)
    P, Y = _multilabel(n=300)
    sw = (Y[:, 0] == 1) & (Y[:, 2] == 0)
    P[sw, 0], P[sw, 2] = 0.1, 0.9                                    # label 0 read as label 2
    assert tuple(most_confused(P, Y, list("vwxyz")).iloc[0][["true", "predicted"]]) == ("v", "x")


# --- error tables -------------------------------------------------------------------------------------------

def test_error_table_matches_sklearn():
    P, Y = _multilabel(seed=5)
    df = error_table(P, Y, list("abcde"), sort=False)
    yp = (P >= 0.5).int().numpy()
    mcm = skm.multilabel_confusion_matrix(Y.int().numpy(), yp)
    np.testing.assert_array_equal(df["FP"], mcm[:, 0, 1]); np.testing.assert_array_equal(df["FN"], mcm[:, 1, 0])
    np.testing.assert_array_equal(df["support"], Y.sum(0).int().numpy())
    np.testing.assert_allclose(df["f1"], skm.f1_score(Y.int(), yp, average=None, zero_division=0), atol=1e-3)
    worst = error_table(P, Y, list("abcde"))
    assert worst["errors"].is_monotonic_decreasing and set(worst["label"]) == set("abcde")
    scores, y = _multiclass(seed=6)
    mc = error_table(scores, y, sort=False)
    np.testing.assert_allclose(mc["recall"], skm.recall_score(y, scores.argmax(1), average=None), atol=1e-3)
    assert mc["FP"].sum() == mc["FN"].sum() == (scores.argmax(1) != y).sum().item()


def test_most_wrong_images():
    P, Y = _multilabel(seed=7)
    df = most_wrong_images(P, Y, list("abcde"), k=None)
    wrong = ((P >= 0.5) != Y.bool()).sum(1)
    assert len(df) == (wrong > 0).sum().item()
    assert df["wrong"].tolist() == sorted(wrong[wrong > 0].tolist(), reverse=True)
    r = df.iloc[0]
    n_listed = sum(len(s.split(", ")) for s in (r["missed"], r["extra"]) if s)
    assert n_listed == r["wrong"] == wrong.max().item()


# --- top losses ---------------------------------------------------------------------------------------------

def test_top_losses_order_multiclass():
    logits, y = _multiclass(n=120, c=6, seed=8)
    manual = np.array([-np.log(np.exp(l) / np.exp(l).sum())[t] for l, t in zip(logits.double().numpy(), y.numpy())])
    order = np.argsort(-manual, kind="stable")
    for loss_fn in (nn.CrossEntropyLoss(), F.cross_entropy, lambda p, t: F.cross_entropy(p, t)):
        losses, idx = top_losses(logits, y, loss_fn, k=10)
        np.testing.assert_array_equal(idx.numpy(), order[:10])
        np.testing.assert_allclose(losses.numpy(), manual[order[:10]], rtol=1e-4)
    small = top_losses(logits, y, F.cross_entropy, k=3, largest=False)
    np.testing.assert_array_equal(small.indices.numpy(), np.argsort(manual)[:3])


def test_top_losses_multilabel_and_weights_untouched():
    g = torch.Generator().manual_seed(9)
    logits, Y = torch.randn(60, 4, generator=g), (torch.rand(60, 4, generator=g) > 0.6).float()
    bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1., 2., 3., 4.]))
    manual = torch.stack([bce(logits[i:i+1], Y[i:i+1]) for i in range(60)])
    losses, idx = top_losses(logits, Y, bce, k=None)
    np.testing.assert_array_equal(idx.numpy(), torch.argsort(manual, descending=True).numpy())
    np.testing.assert_allclose(losses.numpy(), manual.sort(descending=True).values.numpy(), rtol=1e-5)
    assert bce.reduction == "mean"
    calls = []
    def soft(p, t): calls.append(len(p)); return (torch.sigmoid(p) - t).abs().mean()   # no reduction argument
    assert item_losses(logits, Y, soft).shape == (60,) and calls == [1] * 60


# --- likely missing labels ----------------------------------------------------------------------------------

def test_likely_missing_labels_finds_planted_holes(tmp_path):
    "A real detector run: a model fit out-of-fold on labels with holes ranks the holes first."
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    rng = np.random.default_rng(0)
    n, L, d = 1500, 5, 16
    Y = (rng.random((n, L)) < np.linspace(0.4, 0.15, L)).astype(np.float32)
    X = Y @ rng.normal(0, 1.5, (L, d)) + rng.normal(0, 1, (n, d))      # features that show the labels
    pos = np.argwhere(Y == 1)
    removed = pos[rng.choice(len(pos), size=int(0.05 * len(pos)), replace=False)]
    Yobs = Y.copy(); Yobs[removed[:, 0], removed[:, 1]] = 0
    probs = np.stack([cross_val_predict(LogisticRegression(max_iter=500), X, Yobs[:, j], cv=2,
                                        method="predict_proba")[:, 1] for j in range(L)], 1)
    k = len(removed)
    names = list("abcde")
    df = likely_missing_labels(probs, Yobs, names, k=k, min_prob=0.0, csv=tmp_path/"relabel.csv")
    assert len(df) == k and df["prob"].is_monotonic_decreasing
    found = {(int(i), names.index(l)) for i, l in zip(df["image"], df["label"])}
    precision_at_k = len(found & set(map(tuple, removed.tolist()))) / k
    assert precision_at_k >= 0.8, precision_at_k
    assert all(Yobs[i, j] == 0 for i, j in found)                     # only unlabelled pairs are suggested
    # the CSV round trip: a person marks some rows, apply_relabels adds exactly those
    sheet = pd.read_csv(tmp_path/"relabel.csv", dtype={"missing": str})
    assert sheet.columns.tolist() == ["image", "label", "prob", "missing"]
    sheet.loc[:4, "missing"] = "y"; sheet.to_csv(tmp_path/"relabel.csv", index=False)
    fixed = apply_relabels(tmp_path/"relabel.csv", torch.tensor(Yobs), names)
    assert fixed.sum().item() == Yobs.sum() + 5


def test_likely_missing_labels_options(tmp_path):
    probs = torch.tensor([[0.9, 0.2], [0.6, 0.95], [0.1, 0.7]])
    targets = torch.tensor([[0., 0.], [1., 0.], [0., 1.]])
    df = likely_missing_labels(probs, targets, ["cat", "dog"])          # every unlabelled pair >= 0.5
    assert list(zip(df["image"], df["label"])) == [(1, "dog"), (0, "cat")]
    df = likely_missing_labels(torch.logit(probs), targets, ["cat", "dog"], k=1, from_logits=True, ids=["a", "b", "c"])
    assert (df.iloc[0]["image"], df.iloc[0]["row"], df.iloc[0]["label"]) == ("b", 1, "dog")
    with pytest.raises(ValueError, match="one id per row"):
        likely_missing_labels(probs, targets, ids=["a"])
    with pytest.raises(ValueError, match="one name per label"):
        likely_missing_labels(probs, targets, ["cat"])
    # written with file names, read back by name
    likely_missing_labels(probs, targets, ["cat", "dog"], ids=["a.jpg", "b.jpg", "c.jpg"], csv=tmp_path/"named.csv")
    sheet = pd.read_csv(tmp_path/"named.csv", dtype={"missing": str})
    sheet["missing"] = ["n", "Y"]; sheet.to_csv(tmp_path/"named.csv", index=False)   # keep only (a.jpg, cat)
    fixed = apply_relabels(tmp_path/"named.csv", targets, ["cat", "dog"], ids=["a.jpg", "b.jpg", "c.jpg"])
    assert (fixed - targets).nonzero().tolist() == [[0, 0]]
    with pytest.raises(ValueError, match="not among"):
        apply_relabels(tmp_path/"named.csv", targets, ["cat", "dog"], ids=["x", "y", "z"])


# --- plots render to PNG under Agg --------------------------------------------------------------------------

def _saved(fig, tmp_path, name):
    assert isinstance(fig, matplotlib.figure.Figure)
    fig.savefig(tmp_path/name, dpi=60)
    assert (tmp_path/name).stat().st_size > 1000
    plt.close(fig)


def _ticks(labels): return [t.get_text() for t in labels]


def _heat(ax):
    "What a seaborn heatmap shows: its colour values (rows, cols) and its cell texts, row by row."
    v = np.asarray(ax.collections[0].get_array())
    n_rows, n_cols = len(ax.get_yticklabels()), len(ax.get_xticklabels())
    return v.reshape(n_rows, n_cols), np.array([t.get_text() for t in ax.texts], dtype=object).reshape(n_rows, n_cols)


def _pct_text(v): return "" if v == 0 else "<1" if v < 0.005 else f"{100 * v:.0f}"


def _count_text(v): return "" if v == 0 else str(int(v))


@pytest.mark.parametrize("c", [2, 10, 26])
@pytest.mark.parametrize("normalize", [False, True, "pred", "all"])
def test_plot_confusion_matrix_multiclass(tmp_path, c, normalize):
    "Names on both axes, true in rows, scikit-learn's (normalised) matrix as colours, counts or % written in the cells."
    scores, y = _multiclass(n=40 * c, c=c)
    names = [f"class {i}" for i in range(c)]
    fig = plot_confusion_matrix(scores, y, names, normalize=normalize)
    ax, cbar = fig.axes
    assert _ticks(ax.get_xticklabels()) == names and _ticks(ax.get_yticklabels()) == names
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    counts = skm.confusion_matrix(y.numpy(), scores.argmax(1).numpy(), labels=range(c))
    acc = np.trace(counts) / counts.sum()
    assert ax.get_title() == f"confusion matrix (accuracy {acc:.1%}, n={counts.sum()})"
    sk_norm = {False: None, True: "true", "pred": "pred", "all": "all"}[normalize]
    want = skm.confusion_matrix(y.numpy(), scores.argmax(1).numpy(), labels=range(c), normalize=sk_norm)
    colours, texts = _heat(ax)
    np.testing.assert_allclose(colours, want, atol=1e-9)
    fmt = _count_text if normalize is False else _pct_text
    assert texts.tolist() == [[fmt(v) for v in row] for row in want]
    assert cbar.get_ylabel() == {False: "count", True: "% of row", "pred": "% of column", "all": "% of all"}[normalize]
    _saved(fig, tmp_path, "cm.png")


def test_plot_confusion_matrix_multilabel_grid(tmp_path):
    "One 2x2 per label, titled with its positives, counts from scikit-learn's multilabel_confusion_matrix."
    P, Y = _multilabel(L=7)
    fig = plot_confusion_matrix(P, Y, list("abcdefg"))
    want = skm.multilabel_confusion_matrix(Y.numpy(), (P >= 0.5).numpy())
    assert len(fig.axes) == 10 and [a.axison for a in fig.axes] == [True] * 7 + [False] * 3  # a 2x5 grid, 3 left blank
    for i, ax in enumerate(fig.axes[:7]):
        assert ax.get_title() == f"{'abcdefg'[i]} (n={int(Y[:, i].sum())})"
        assert _ticks(ax.get_xticklabels()) == _ticks(ax.get_yticklabels()) == ["no", "yes"]
        colours, texts = _heat(ax)
        assert texts.tolist() == [[_count_text(v) for v in row] for row in want[i]]
        np.testing.assert_allclose(colours, want[i] / want[i].sum(1, keepdims=True))  # colour: share of the true row
    assert [a.get_xlabel() for a in fig.axes[:7]] == [""] * 5 + ["predicted"] * 2  # only under the bottom row
    assert [a.get_ylabel() for a in fig.axes[:7]] == ["true", "", "", "", "", "true", ""]
    assert fig._suptitle.get_text().startswith("per-label confusion: rows true")
    _saved(fig, tmp_path, "grid.png")
    fig = plot_confusion_matrix(P, Y, normalize=True, ncols=3)
    assert len(fig.axes) == 9 and fig.axes[0].get_title() == f"0 (n={int(Y[:, 0].sum())})"
    texts = _heat(fig.axes[2])[1]
    assert texts.tolist() == [[_pct_text(v) for v in row] for row in want[2] / want[2].sum(1, keepdims=True)]
    _saved(fig, tmp_path, "grid_norm.png")
    with pytest.raises(ValueError, match="not understood"):
        plot_confusion_matrix(P, Y, normalize="rows")


def test_plot_label_confusion(tmp_path):
    "Cell (i, j): images whose true label i was missed while label j was predicted but not true; diagonal empty."
    P, Y = _multilabel()
    yes, t = (P >= 0.5).numpy(), Y.numpy().astype(bool)
    L = Y.shape[1]
    want = np.array([[0 if i == j else int((t[:, i] & ~yes[:, i] & yes[:, j] & ~t[:, j]).sum()) for j in range(L)]
                     for i in range(L)])
    assert want.sum() > 0
    fig = plot_label_confusion(P, Y, list("abcde"))
    ax = fig.axes[0]
    colours, texts = _heat(ax)
    np.testing.assert_array_equal(colours, want)
    assert texts.tolist() == [[_count_text(v) for v in row] for row in want]
    assert _ticks(ax.get_xticklabels()) == _ticks(ax.get_yticklabels()) == list("abcde")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted, but not true", "true, but missed")
    assert fig.axes[1].get_ylabel() == "images"
    _saved(fig, tmp_path, "lc.png")
    fig = plot_label_confusion(P, Y, normalize=True, only_missed=False)
    ax = fig.axes[0]
    every = np.array([[0 if i == j else int((t[:, i] & yes[:, j] & ~t[:, j]).sum()) for j in range(L)] for i in range(L)])
    np.testing.assert_allclose(_heat(ax)[0], every / t.sum(0)[:, None])
    assert ax.get_ylabel() == "true" and _ticks(ax.get_xticklabels()) == [str(j) for j in range(L)]
    assert fig.axes[1].get_ylabel() == "% of the row label's images"
    _saved(fig, tmp_path, "lc_norm.png")


def _left_title(ax):
    "The left-aligned title (text and colour) of an axis."
    t = next(c for c in ax.get_children() if isinstance(c, matplotlib.text.Text) and c.get_text() == ax.get_title(loc="left"))
    return t.get_text(), t.get_color()


@pytest.mark.parametrize("shape,dtype", [((30, 1, 16, 16), torch.uint8), ((30, 3, 16, 16), torch.float32),
                                         ((30, 16, 16), torch.float32)])
def test_plot_top_losses(tmp_path, shape, dtype):
    "The k worst items in loss order: each image drawn as given, titled with loss, true and predicted labels."
    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(shape, generator=g) * (255 if dtype == torch.uint8 else 1)).to(dtype)
    logits, y = torch.randn(30, 3, generator=g), torch.randint(0, 3, (30,), generator=g)
    fig = plot_top_losses(imgs, logits, y, ["a", "b", "c"], k=5)
    losses = F.cross_entropy(logits, y, reduction="none")
    order, probs = losses.argsort(descending=True)[:5], logits.softmax(1)
    assert len(fig.axes) == 8 and [a.axison for a in fig.axes[5:]] == [False] * 3  # 2 rows of 4, 3 blank
    for ax, i in zip(fig.axes, order.tolist()):
        t, p = y[i].item(), probs[i].argmax().item()
        text, colour = _left_title(ax)
        assert text == f"loss {losses[i]:.2f}\ntrue: {'abc'[t]} {probs[i, t]:.2f}\npred: {'abc'[p]} {probs[i, p]:.2f}"
        assert colour == ("darkgreen" if t == p else "firebrick")
        shown = imgs[i].float().squeeze() / (255 if dtype == torch.uint8 else 1)
        np.testing.assert_allclose(np.asarray(ax.images[0].get_array()).squeeze(), shown.permute(*(1, 2, 0) if shown.ndim == 3 else (0, 1)).numpy(), atol=1e-6)
    _saved(fig, tmp_path, "top.png")
    Y = (torch.rand(30, 3, generator=g) > 0.5).float()
    fig = plot_top_losses(imgs, logits, Y, ["a", "b", "c"], k=4, ncols=2)
    bce = F.binary_cross_entropy_with_logits(logits, Y, reduction="none").mean(1)
    i = bce.argmax().item()
    true = [n for n, v in zip("abc", Y[i].tolist()) if v]
    pred = sorted([(-p, n) for n, p in zip("abc", torch.sigmoid(logits[i]).tolist()) if p >= 0.5])
    text = _left_title(fig.axes[0])[0]
    assert text.startswith(f"loss {bce[i]:.2f}\ntrue: {', '.join(true) or '-'}\npred: ")
    assert text.split("pred: ")[1].split(", ")[0].split(" ")[0] == (pred[0][1] if pred else "-")
    assert len(fig.axes) == 4
    _saved(fig, tmp_path, "top_ml.png")
    fig = plot_top_losses(imgs, logits, y, idxs=[0, 1])
    assert [_left_title(a)[0].split("\n")[0] for a in fig.axes] == [f"loss {losses[0]:.2f}", f"loss {losses[1]:.2f}"]
    assert _left_title(fig.axes[0])[0].split("\n")[1].startswith(f"true: {y[0].item()} ")
    _saved(fig, tmp_path, "idxs.png")
    with pytest.raises(ValueError, match="same"):
        plot_top_losses(imgs[:10], logits, y)


def test_plot_history(tmp_path):
    "Train and valid loss on the left, the metrics on the right, each line the records' values by epoch."
    recs = [{"epoch": e, "train_loss": 1 / (e + 1), "valid_loss": 1.1 / (e + 1), "accuracy": 0.5 + 0.05 * e,
             "time": 2.0} for e in range(5)]
    fig = plot_history(recs, title="run 1")
    left, right = fig.axes
    assert [l.get_label() for l in left.lines] == ["train loss", "valid loss"]
    for line, key in zip(left.lines, ("train_loss", "valid_loss")):
        assert list(line.get_xdata()) == list(range(5)) and np.allclose(line.get_ydata(), [r[key] for r in recs])
    assert [l.get_label() for l in right.lines] == ["accuracy"]
    assert np.allclose(right.lines[0].get_ydata(), [r["accuracy"] for r in recs])
    assert (left.get_xlabel(), left.get_ylabel(), left.get_title()) == ("epoch", "loss", "loss")
    assert (right.get_xlabel(), right.get_title()) == ("epoch", "metrics (validation)")
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["train loss", "valid loss"]
    assert fig._suptitle.get_text() == "run 1"
    _saved(fig, tmp_path, "hist.png")
    class History: records = recs
    fig = plot_history(History(), metrics=[])
    assert len(fig.axes) == 1 and [l.get_label() for l in fig.axes[0].lines] == ["train loss", "valid loss"]
    _saved(fig, tmp_path, "hist_loss.png")
    with pytest.raises(ValueError, match="per-epoch dicts"):
        plot_history([])


def test_likely_missing_labels_agreement_demotes_misreadings():
    "A planted misreading (the model doubts an annotated label and names a look-alike) drops below real holes."
    rng = np.random.default_rng(1)
    n, L = 400, 4
    Y = (rng.random((n, L)) < 0.3).astype(np.float32)
    P = np.where(Y == 1, rng.uniform(0.8, 0.99, (n, L)), rng.uniform(0.0, 0.2, (n, L)))
    holes = [(i, 3) for i in range(0, 40, 2) if Y[i, 3] == 1]
    Yobs = Y.copy()
    for i, j in holes: Yobs[i, j] = 0                     # real holes: the model sees the item, the annotation lacks it
    misread = [i for i in range(100, 200) if Yobs[i, 0] == 1 and Yobs[i, 1] == 0][:len(holes)]
    for i in misread: P[i, 0], P[i, 1] = 0.1, 0.995      # label 0 annotated, the model reads label 1 instead
    k = len(holes)
    for rank, at_least, at_most in (("prob", 0.0, 0.5), ("agreement", 0.95, 1.0)):
        df = likely_missing_labels(P, Yobs, k=k, min_prob=0.0, rank=rank)
        prec = len({(int(i), int(j)) for i, j in zip(df["image"], df["label"])} & set(holes)) / k
        assert at_least <= prec <= at_most, (rank, prec)
    df = likely_missing_labels(P, Yobs, k=k, min_prob=0.0, rank="agreement")
    assert df["score"].is_monotonic_decreasing and (df["score"] <= df["prob"]).all()
    with pytest.raises(ValueError, match="rank must be"):
        likely_missing_labels(P, Yobs, rank="loss")


def test_interpret_reexports_the_confusion_tools():
    "Lesson 09 exports the confusion tools to mlcourse.confusion; mlcourse.interpret keeps every one importable."
    import mlcourse.confusion as conf, mlcourse.interpret as interp
    assert set(conf.__all__) == {"confusion_matrix", "plot_confusion_matrix", "label_confusion", "plot_label_confusion",
                                 "most_confused", "error_table"}
    for name in conf.__all__:
        assert getattr(interp, name) is getattr(conf, name) and name in interp.__all__, name
    ns = {}
    exec("from mlcourse.interpret import *", ns)
    assert {"plot_confusion_matrix", "top_losses", "likely_missing_labels", "plot_history"} <= set(ns)
