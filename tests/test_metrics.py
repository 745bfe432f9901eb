"Cross-checks of mlcourse.metrics against scikit-learn, and the behaviour the lessons rely on."
import inspect, math, warnings
import numpy as np
import pytest
import torch
import sklearn.metrics as skm
from mlcourse.metrics import (exact_match, hamming_accuracy, precision_score, recall_score, f1_score, accuracy,
                              top_k_accuracy, multilabel_report, tune_thresholds, binarize, F1Score, ExactMatch,
                              HammingAccuracy, PrecisionScore, RecallScore, Accuracy, TopK, PositionalAccuracy, decode_positional, positional_accuracy,
                              thresholds_to_dict, thresholds_from_dict, save_thresholds, load_thresholds)

AVERAGES = [None, "micro", "macro", "weighted", "samples"]
PAIRS = [(precision_score, skm.precision_score), (recall_score, skm.recall_score), (f1_score, skm.f1_score)]


def hard_case(seed, n=80, L=7):
    "Random multi-label probabilities and targets with every awkward case in them."
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(n, L, generator=g)
    rates = torch.rand(L, generator=g) * 0.5
    y = (torch.rand(n, L, generator=g) < rates).float()
    y[:, 0] = 0                      # a label with no positives ...
    probs[:, 0] *= 0.45              # ... and no predicted positives: 0/0 everywhere
    y[:, 1] = 0                      # a label with no positives but some predicted
    probs[:, 2] *= 0.4               # a label never predicted (has positives)
    y[:10] = 0                       # rows with no labels
    probs[:6] *= 0.3                 # rows with no predictions (some with no labels: 0/0 for "samples")
    return probs, y


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("zero_division", [0.0, 1.0, float("nan")])
@pytest.mark.parametrize("average", AVERAGES)
def test_prf_matches_sklearn(seed, zero_division, average):
    probs, y = hard_case(seed)
    hard = (probs >= 0.5).numpy().astype(int)
    for ours, theirs in PAIRS:
        a = ours(probs, y, average=average, zero_division=zero_division)
        b = theirs(y.numpy().astype(int), hard, average=average, zero_division=zero_division)
        np.testing.assert_allclose(np.asarray(a, dtype=float), b, atol=1e-6, equal_nan=True,
                                   err_msg=f"{ours.__name__} average={average} zero_division={zero_division}")


def test_default_rule_is_sklearn_zero_division_0():
    probs, y = hard_case(0)
    hard = (probs >= 0.5).numpy()
    f1 = f1_score(probs, y, average=None)
    assert f1[0] == 0 and f1[1] == 0  # no positives: 0 whether or not something was predicted
    assert abs(f1_score(probs, y) - skm.f1_score(y.numpy(), hard, average="macro", zero_division=0)) < 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_accuracies_match_sklearn(seed):
    probs, y = hard_case(seed)
    hard = (probs >= 0.5).numpy()
    assert abs(exact_match(probs, y) - skm.accuracy_score(y.numpy(), hard)) < 1e-6
    assert abs(hamming_accuracy(probs, y) - (1 - skm.hamming_loss(y.numpy(), hard))) < 1e-6
    g = torch.Generator().manual_seed(seed)
    s, t = torch.randn(300, 10, generator=g), torch.randint(0, 10, (300,), generator=g)
    assert abs(accuracy(s, t) - skm.accuracy_score(t.numpy(), s.argmax(1).numpy())) < 1e-6
    for k in (1, 3, 5):
        assert abs(top_k_accuracy(s, t, k=k) - skm.top_k_accuracy_score(t.numpy(), s.numpy(), k=k, labels=range(10))) < 1e-6


def test_from_logits_equivalence():
    probs, y = hard_case(1)
    probs = probs.clamp(1e-5, 1 - 1e-5).double()
    logits = torch.logit(probs)
    th = torch.linspace(0.2, 0.8, probs.shape[1])
    for avg in AVERAGES[1:]:
        assert f1_score(logits, y, average=avg, from_logits=True) == pytest.approx(f1_score(probs, y, average=avg))
        assert f1_score(logits, y, average=avg, from_logits=True, threshold=th) == pytest.approx(f1_score(probs, y, average=avg, threshold=th))
    assert exact_match(logits, y, from_logits=True) == exact_match(probs, y)
    assert F1Score("micro")(logits, y, from_logits=True) == pytest.approx(f1_score(probs, y, average="micro"))
    assert F1Score("micro", from_logits=True)(logits, y) == pytest.approx(f1_score(probs, y, average="micro"))


def test_per_label_threshold_is_applied_per_column():
    probs = torch.tensor([[0.3, 0.3], [0.7, 0.7]])
    hard, _ = binarize(probs, torch.zeros(2, 2), threshold=torch.tensor([0.2, 0.8]))
    assert hard.tolist() == [[True, False], [True, False]]


def test_clear_errors():
    p, y = torch.rand(4, 3), torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"): f1_score(p, y[:, :2])
    with pytest.raises(ValueError, match="from_logits=True"): f1_score(p * 10 - 5, y)
    with pytest.raises(ValueError, match="from_logits=True"): exact_match(torch.full((4, 3), float("nan")), y)
    with pytest.raises(ValueError, match="0 or 1"): hamming_accuracy(p, y + 2)
    with pytest.raises(ValueError, match="average must be"): f1_score(p, y, average="binary")
    with pytest.raises(ValueError, match="zero_division"): f1_score(p, y, zero_division=0.5)
    with pytest.raises(ValueError, match="class indices"): accuracy(p, y)
    with pytest.raises(ValueError, match="2 thresholds for 3 labels"): f1_score(p, y, threshold=[0.5, 0.5])


def synth(n, seed):
    "Scores whose rarer labels have lower-scoring positives: 0.5 is a poor threshold for them."
    g = torch.Generator().manual_seed(seed)
    rate, centre = torch.tensor([0.4, 0.2, 0.08, 0.04, 0.02]), torch.tensor([0.75, 0.55, 0.4, 0.3, 0.3])
    y = (torch.rand(n, 5, generator=g) < rate).float()
    p = (y * centre + (1 - y) * 0.1 + 0.12 * torch.randn(n, 5, generator=g)).clamp(0, 1)
    return p, y


def test_tuned_thresholds_generalise():
    (pv, yv), (pt, yt) = synth(3000, 0), synth(3000, 1)
    th = tune_thresholds(pv, yv)
    assert th.shape == (5,) and (th < 0.5).any()
    assert f1_score(pt, yt, threshold=th) > f1_score(pt, yt) + 0.05
    assert F1Score(threshold=th, from_logits=False)(pt, yt) == f1_score(pt, yt, threshold=th)
    g = tune_thresholds(pv, yv, per_label=False, average="micro")
    assert g.ndim == 0 and f1_score(pt, yt, average="micro", threshold=g) >= f1_score(pt, yt, average="micro") - 0.01


def test_tuning_on_the_test_split_is_optimistic():
    (pv, yv), (pt, yt) = synth(400, 2), synth(400, 3)
    on_test = f1_score(pt, yt, threshold=tune_thresholds(pt, yt))
    honest = f1_score(pt, yt, threshold=tune_thresholds(pv, yv))
    assert on_test >= honest  # the best thresholds for a split score at least as well as any others on it


def test_tune_edge_cases():
    pv, yv = synth(500, 0)
    assert torch.equal(tune_thresholds(pv, torch.zeros_like(yv)), torch.full((5,), 0.5))
    with pytest.raises(ValueError, match="per_label=False"): tune_thresholds(pv, yv, metric="exact_match")
    t = tune_thresholds(pv, yv, per_label=False, metric=lambda p, y, threshold: f1_score(p, y, threshold=threshold))
    assert t == tune_thresholds(pv, yv, per_label=False)


def test_threshold_round_trip(tmp_path):
    labels = ["cloud", "dog", "river"]
    th = torch.tensor([0.3, 0.5, 0.12])
    d = thresholds_to_dict(th, labels)
    assert torch.allclose(thresholds_from_dict(d, labels), th)
    assert torch.allclose(load_thresholds(save_thresholds(tmp_path / "t.json", th, labels), labels[::-1]), th.flip(0))
    with pytest.raises(ValueError, match="bird"): thresholds_from_dict(d, ["cloud", "dog", "bird"])


def test_report_and_sparse_warning():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(400, 4, generator=g) < 0.04).float()
    with pytest.warns(UserWarning, match="sparse"):
        rep = multilabel_report(torch.zeros(400, 4), y, list("abcd"))
    assert rep.loc["all labels (Hamming)", "accuracy"] == pytest.approx(rep.loc["all labels (Hamming)", "all_negative"])
    assert rep.loc["macro avg", "f1"] == 0
    good = (y * 0.9 + 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = multilabel_report(good, y, list("abcd"))
    assert rep.loc["b", "support"] == int(y[:, 1].sum()) and rep.loc["b", "f1"] == 1
    assert rep.attrs["summary"]["exact_match"] == 1


def test_metric_objects():
    assert [m.name for m in (F1Score(), F1Score("weighted"), ExactMatch(), HammingAccuracy(), Accuracy(), TopK(3), PositionalAccuracy())] == \
        ["f1_macro", "f1_weighted", "exact_match", "hamming_accuracy", "accuracy", "top3_accuracy", "sequence_accuracy"]
    s, t = torch.randn(50, 4), torch.randint(0, 4, (50,))
    assert isinstance(Accuracy()(s, t), float) and TopK(4)(s, t) == 1.0


def test_positional():
    t = torch.tensor([[1, 2, 3, 10, 10], [9, 10, 10, 10, 10]])
    logits = torch.nn.functional.one_hot(t, 11).float().reshape(2, 55)
    assert decode_positional(logits) == ["123", "9"]
    assert positional_accuracy(logits, t) == 1.0
    logits[0, 11 * 2 + 4] = 2  # third digit of the first sample becomes 4
    assert decode_positional(logits)[0] == "124"
    assert positional_accuracy(logits, t) == 0.5 and positional_accuracy(logits, t, per="position") == pytest.approx(0.9)
    with pytest.raises(ValueError, match="n_out=55"): positional_accuracy(torch.randn(2, 50), t)


ORDERED = [exact_match, hamming_accuracy, precision_score, recall_score, f1_score, multilabel_report, tune_thresholds]


@pytest.mark.parametrize("fn", ORDERED, ids=lambda f: f.__name__)
def test_sklearn_order_is_refused(fn):
    "(y_true, y_score): labels first, probabilities or logits second, in any dtype the labels come in."
    probs, y = hard_case(0)
    for labels in (y, y.int(), y.bool(), y.numpy().astype(int)):
        with pytest.raises(ValueError, match=rf"scikit-learn's order, {fn.__name__}\(y_true, y_score\)"): fn(labels, probs)
    with pytest.raises(ValueError, match=r"\(preds, targets\)"): fn(y, torch.logit(probs), from_logits=True)
    with pytest.raises(ValueError, match="scikit-learn's order"): fn(y[:, 3], probs[:, 3])  # one label, 1-D


@pytest.mark.parametrize("average", AVERAGES[1:])
def test_right_order_matches_sklearn_and_hard_predictions_pass(average):
    "Our order gives scikit-learn's numbers; hard 0/1 predictions are not refused, and keep precision and recall apart."
    probs, y = hard_case(3)
    hard = (probs >= 0.5).int()
    for ours, theirs in PAIRS:
        want = theirs(y.numpy(), hard.numpy(), average=average, zero_division=0)
        assert ours(probs, y, average=average) == pytest.approx(want, abs=1e-6)
        assert ours(hard, y, average=average) == pytest.approx(want, abs=1e-6)      # int hard predictions
        assert ours(hard.float(), y, average=average) == pytest.approx(want, abs=1e-6)
    assert abs(precision_score(hard, y) - recall_score(hard, y)) > 0.05  # a silent swap would show
    assert exact_match(hard, y) == pytest.approx(skm.accuracy_score(y.numpy(), hard.numpy()))


def test_multiclass_sklearn_order_is_refused():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(100, 6, generator=g), torch.randint(0, 6, (100,), generator=g)
    for fn in (accuracy, top_k_accuracy):
        with pytest.raises(ValueError, match=rf"{fn.__name__}\(y_true, y_score\)"): fn(t, s)
        with pytest.raises(ValueError, match="scikit-learn's order"): fn(t, s.softmax(1))
    assert accuracy(t, s.argmax(1)) == accuracy(s.argmax(1), t) == pytest.approx(skm.accuracy_score(t.numpy(), s.argmax(1).numpy()))
    tp = torch.randint(0, 11, (8, 5), generator=g)
    with pytest.raises(ValueError, match="scikit-learn's order"): positional_accuracy(tp, torch.rand(8, 55, generator=g))


OBJECTS = [(F1Score, f1_score), (PrecisionScore, precision_score), (RecallScore, recall_score),
           (ExactMatch, exact_match), (HammingAccuracy, hamming_accuracy)]


@pytest.mark.parametrize("obj,fn", OBJECTS, ids=lambda x: x.__name__)
def test_objects_and_functions_take_the_same_inputs(obj, fn):
    "Probabilities by default for both; `from_logits` on the object or on one call; a call's None keeps the object's."
    probs, y = hard_case(2)
    probs = probs.clamp(1e-5, 1 - 1e-5).double()
    logits = torch.logit(probs)
    assert obj().from_logits is False and inspect.signature(fn).parameters["from_logits"].default is False
    want = fn(probs, y)
    assert obj()(probs, y) == pytest.approx(want)
    assert obj()(logits, y, from_logits=True) == pytest.approx(want)
    assert obj(from_logits=True)(logits, y) == pytest.approx(want)
    assert obj(from_logits=True)(logits, y, from_logits=None) == pytest.approx(want)
    assert obj(from_logits=True)(probs, y, from_logits=False) == pytest.approx(want)
    with pytest.raises(ValueError, match="from_logits=True"): obj()(logits, y)


def test_every_metric_object_takes_from_logits():
    s, t = torch.randn(30, 11 * 5), torch.randint(0, 11, (30, 5))
    for m in (Accuracy(), TopK(3)):
        assert "from_logits" in inspect.signature(m).parameters
        assert m(s[:, :11], t[:, 0], from_logits=True) == m(s[:, :11].softmax(1), t[:, 0])
    assert PositionalAccuracy()(s, t, from_logits=True) == positional_accuracy(s, t)


def test_evaluate_tells_metrics_the_outputs_are_logits():
    "A model whose logits are all negative but rank the positives first: F1 at threshold 0.3 needs the sigmoid."
    import torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset
    from mlcourse.train import evaluate
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(200, 4, generator=g) < 0.3).float()
    x = y + 0.3 * torch.randn(200, 4, generator=g)
    model = nn.Sequential(nn.Linear(4, 4), nn.Hardtanh(-4.0, -0.05))
    with torch.no_grad():
        model[0].weight.copy_(1.5 * torch.eye(4)); model[0].bias.fill_(-2.0)
        logits = model(x)
    assert logits.max() < 0 and all(logits[y[:, j] == 1, j].mean() > logits[y[:, j] == 0, j].mean() + 1 for j in range(4))
    probs = torch.sigmoid(logits)
    def max_output(preds, targets): return preds.max().item()  # takes no from_logits: gets the logits as they are
    metrics = [F1Score("macro", threshold=0.3), PrecisionScore("micro", threshold=0.3), ExactMatch(threshold=0.3),
               F1Score("micro", threshold=0.3, from_logits=True), f1_score, max_output]
    out = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=32), nn.BCEWithLogitsLoss(), metrics, device="cpu")
    want = f1_score(probs, y, threshold=0.3)
    assert out["f1_macro"] == pytest.approx(want) and want > 0.6
    assert f1_score((logits >= 0.3).float(), y) == 0 != want  # what reading the logits as probabilities would give
    assert out["precision_micro"] == pytest.approx(precision_score(probs, y, average="micro", threshold=0.3))
    assert out["exact_match"] == pytest.approx(exact_match(probs, y, threshold=0.3))
    assert out["f1_micro"] == pytest.approx(f1_score(probs, y, average="micro", threshold=0.3))
    assert out["f1_score"] == pytest.approx(f1_score(probs, y))
    assert out["max_output"] == pytest.approx(logits.max().item()) and out["max_output"] < 0
    assert out["valid_loss"] == pytest.approx(nn.functional.binary_cross_entropy_with_logits(logits, y).item(), rel=1e-5)
