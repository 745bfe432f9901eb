"Interpret: confusion counts against scikit-learn, error tables, top losses, missing-label detection, plots to PNG."
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


@pytest.mark.parametrize("c", [2, 10, 26])
@pytest.mark.parametrize("normalize", [False, True, "pred", "all"])
def test_plot_confusion_matrix_multiclass(tmp_path, c, normalize):
    scores, y = _multiclass(n=40 * c, c=c)
    _saved(plot_confusion_matrix(scores, y, [f"class {i}" for i in range(c)], normalize=normalize), tmp_path, "cm.png")


def test_plot_confusion_matrix_multilabel_grid(tmp_path):
    P, Y = _multilabel(L=7)
    fig = plot_confusion_matrix(P, Y, list("abcdefg"))
    assert sum(a.has_data() for a in fig.axes) == 7
    assert "(n=" in fig.axes[0].get_title()
    _saved(fig, tmp_path, "grid.png")
    _saved(plot_confusion_matrix(P, Y, normalize=True, ncols=3), tmp_path, "grid_norm.png")
    with pytest.raises(ValueError, match="not understood"):
        plot_confusion_matrix(P, Y, normalize="rows")


def test_plot_label_confusion(tmp_path):
    P, Y = _multilabel()
    _saved(plot_label_confusion(P, Y, list("abcde")), tmp_path, "lc.png")
    _saved(plot_label_confusion(P, Y, normalize=True, only_missed=False), tmp_path, "lc_norm.png")


@pytest.mark.parametrize("shape,dtype", [((30, 1, 16, 16), torch.uint8), ((30, 3, 16, 16), torch.float32),
                                         ((30, 16, 16), torch.float32)])
def test_plot_top_losses(tmp_path, shape, dtype):
    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(shape, generator=g) * (255 if dtype == torch.uint8 else 1)).to(dtype)
    logits, y = torch.randn(30, 3, generator=g), torch.randint(0, 3, (30,), generator=g)
    _saved(plot_top_losses(imgs, logits, y, ["a", "b", "c"], k=5), tmp_path, "top.png")
    Y = (torch.rand(30, 3, generator=g) > 0.5).float()
    _saved(plot_top_losses(imgs, logits, Y, ["a", "b", "c"], k=4, ncols=2), tmp_path, "top_ml.png")
    _saved(plot_top_losses(imgs, logits, y, idxs=[0, 1]), tmp_path, "idxs.png")
    with pytest.raises(ValueError, match="same"):
        plot_top_losses(imgs[:10], logits, y)


def test_plot_history(tmp_path):
    recs = [{"epoch": e, "train_loss": 1 / (e + 1), "valid_loss": 1.1 / (e + 1), "accuracy": 0.5 + 0.05 * e,
             "time": 2.0} for e in range(5)]
    fig = plot_history(recs)
    assert len(fig.axes) == 2 and [l.get_label() for l in fig.axes[1].lines] == ["accuracy"]
    _saved(fig, tmp_path, "hist.png")
    class History: records = recs
    _saved(plot_history(History(), metrics=[]), tmp_path, "hist_loss.png")
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
