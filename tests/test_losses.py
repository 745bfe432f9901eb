"Behaviour of mlcourse.losses: pos_weight, soft F1, focal, multi-head and positional losses."
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import sklearn.metrics as skm
from mlcourse.losses import pos_weight_from, SoftF1Loss, FocalLoss, MultiHeadLoss, PositionalCELoss, split_positional


def test_pos_weight():
    y = torch.tensor([[1., 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 1]])
    w = pos_weight_from(y, max_weight=50)
    assert torch.allclose(w, torch.tensor([1.5, 50.0, 1 / 50]))
    assert torch.isfinite(w).all()
    with pytest.raises(ValueError, match="n_labels"): pos_weight_from(torch.zeros(5))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_soft_f1_is_one_minus_f1_when_saturated(seed, average):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(40, 6, generator=g) < 0.25).float()
    hard = (torch.rand(40, 6, generator=g) < 0.25).float()
    y[:, 0] = 0; hard[:, 0] = 0          # empty label, nothing predicted
    y[:, 1] = 0                           # empty label, something predicted
    logits = (hard * 2 - 1) * 40
    f1 = skm.f1_score(y.numpy(), hard.numpy(), average=average, zero_division=0)
    assert SoftF1Loss(average)(logits, y).item() == pytest.approx(1 - f1, abs=1e-5)


def test_soft_f1_finite_with_empty_labels():
    for logits in (torch.randn(16, 5), torch.full((16, 5), -50.0), torch.full((16, 5), 50.0)):
        x = logits.clone().requires_grad_()
        loss = SoftF1Loss()(x, torch.zeros(16, 5))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(x.grad).all()
    x = torch.randn(16, 5, requires_grad=True)
    y = torch.zeros(16, 5); y[:4, 0] = 1
    SoftF1Loss("micro", bce_weight=1.0)(x, y).backward()
    assert torch.isfinite(x.grad).all() and x.grad[:, 1:].abs().sum() > 0  # BCE gives the empty labels a gradient


def test_soft_f1_batch_dependence():
    "The mean of per-batch soft F1 losses is not the full-batch loss (documented)."
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(64, 8, generator=g) < 0.05).float()
    x = torch.randn(64, 8, generator=g)
    full = SoftF1Loss()(x, y).item()
    parts = np.mean([SoftF1Loss()(x[i:i + 8], y[i:i + 8]).item() for i in range(0, 64, 8)])
    assert abs(full - parts) > 0.01


def test_soft_f1_errors():
    with pytest.raises(ValueError, match="macro"): SoftF1Loss("samples")
    with pytest.raises(ValueError, match=r"\(8, 3\).*\(8, 2\)"): SoftF1Loss()(torch.randn(8, 3), torch.zeros(8, 2))


def test_focal_reduces_to_ce_and_downweights_easy():
    x, y = torch.randn(20, 4), (torch.rand(20, 4) < 0.3).float()
    assert torch.allclose(FocalLoss(gamma=0)(x, y), F.binary_cross_entropy_with_logits(x, y))
    xc, yc = torch.randn(20, 5), torch.randint(0, 5, (20,))
    assert torch.allclose(FocalLoss(gamma=0)(xc, yc), F.cross_entropy(xc, yc))
    a = torch.tensor([0.2, 1, 1, 1, 1.])
    assert torch.allclose(FocalLoss(gamma=0, alpha=a)(xc, yc), (F.cross_entropy(xc, yc, reduction="none") * a[yc]).mean())
    easy = FocalLoss(reduction="none")(torch.tensor([5.]), torch.tensor([1.]))
    assert easy < 0.01 * F.binary_cross_entropy_with_logits(torch.tensor([5.]), torch.tensor([1.]))



@pytest.mark.parametrize("alpha", [0.25, [0.1, 0.25, 0.5, 0.9], (0.3, 0.3, 0.6, 0.6), torch.tensor([0.2, 0.4, 0.6, 0.8])])
def test_focal_alpha_multilabel(alpha):
    "A float or one weight per label: positives weighed by alpha, negatives by 1 - alpha, label by label."
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 4, generator=g), (torch.rand(32, 4, generator=g) < 0.3).float()
    a = torch.as_tensor(alpha, dtype=torch.float32)
    p_t = torch.where(y.bool(), torch.sigmoid(x), 1 - torch.sigmoid(x))
    want = (a * y + (1 - a) * (1 - y)) * (1 - p_t) ** 2 * -torch.log(p_t)
    assert torch.allclose(FocalLoss(alpha=alpha, reduction="none")(x, y), want, atol=1e-6)
    assert torch.allclose(FocalLoss(alpha=alpha)(x, y), want.mean(), atol=1e-6)


@pytest.mark.parametrize("alpha", [0.5, [0.2, 1, 1, 3, 1], torch.tensor([1., 2, 3, 4, 5])])
def test_focal_alpha_multiclass(alpha):
    "A float weighs every class the same; a list weighs each example by its class."
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(40, 5, generator=g), torch.randint(0, 5, (40,), generator=g)
    w = torch.as_tensor(alpha, dtype=torch.float32).expand(5)[y]
    ce = F.cross_entropy(x, y, reduction="none")
    want = w * (1 - torch.exp(-ce)) ** 2 * ce
    assert torch.allclose(FocalLoss(alpha=alpha, reduction="none")(x, y), want, atol=1e-6)
    assert torch.allclose(FocalLoss(gamma=0, alpha=alpha, reduction="sum")(x, y), (w * ce).sum(), atol=1e-5)


def test_focal_alpha_errors():
    x, y = torch.randn(8, 4), (torch.rand(8, 4) < 0.5).float()
    xc, yc = torch.randn(8, 5), torch.randint(0, 5, (8,))
    with pytest.raises(ValueError, match="alpha has 3 weights but the logits have 4 labels"): FocalLoss(alpha=[0.25] * 3)(x, y)
    with pytest.raises(ValueError, match="alpha has 4 weights but the logits have 5 classes"): FocalLoss(alpha=[1.0] * 4)(xc, yc)
    with pytest.raises(ValueError, match=r"\[0, 1\]"): FocalLoss(alpha=[0.5, 0.5, 2.0, 0.5])(x, y)
    with pytest.raises(ValueError, match="flat list"): FocalLoss(alpha=[[0.25, 0.25]])
    with pytest.raises(ValueError, match="flat list"): FocalLoss(alpha=-0.5)
    with pytest.raises(ValueError, match="reduction"): FocalLoss(reduction="avg")
    loss = FocalLoss(alpha=[0.25] * 4)
    assert "alpha" in dict(loss.named_buffers())  # moves with .to(device)


def test_multi_head():
    d, l = torch.randn(6, 10), torch.randn(6, 26)
    yd, yl = torch.randint(0, 10, (6,)), torch.randint(0, 26, (6,))
    want = F.cross_entropy(d, yd) + 5 * F.cross_entropy(l, yl)
    fn = MultiHeadLoss(nn.CrossEntropyLoss(), weights=[1, 5])
    assert torch.allclose(fn((d, l), (yd, yl)), want)
    assert torch.allclose(fn([d, l], torch.stack([yd, yl], 1)), want)
    fn = MultiHeadLoss({"d": nn.CrossEntropyLoss(), "l": nn.CrossEntropyLoss()}, {"d": 1, "l": 5})
    assert torch.allclose(fn({"d": d, "l": l}, {"d": yd, "l": yl}), want)
    with pytest.raises(ValueError, match="3 losses for 2 heads"): MultiHeadLoss([F.cross_entropy] * 3)((d, l), (yd, yl))
    with pytest.raises(ValueError, match=r"\(n, 2\)"): MultiHeadLoss(F.cross_entropy)((d, l), yd)


def test_positional_loss():
    x, t = torch.randn(3, 55), torch.randint(0, 11, (3, 5))
    want = F.cross_entropy(x.view(3, 5, 11).reshape(15, 11), t.reshape(15))
    assert torch.allclose(PositionalCELoss()(x, t), want)
    assert split_positional(x).shape == (3, 5, 11) and torch.equal(split_positional(x)[:, 1], x[:, 11:22])
    with pytest.raises(ValueError, match="n_out=55"): PositionalCELoss()(torch.randn(3, 54), t)


@pytest.mark.parametrize("make", [lambda y: nn.BCEWithLogitsLoss(pos_weight=pos_weight_from(y)), lambda y: SoftF1Loss(),
                                  lambda y: SoftF1Loss("micro", bce_weight=0.5), lambda y: FocalLoss()])
def test_losses_can_be_minimised(make):
    torch.manual_seed(0)
    y = (torch.rand(32, 6) < 0.3).float()
    fn, z = make(y), torch.zeros(32, 6, requires_grad=True)
    opt = torch.optim.Adam([z], lr=0.3)
    start = fn(z, y).item()
    for _ in range(60):
        opt.zero_grad(); loss = fn(z, y); loss.backward(); opt.step()
    assert loss.item() < 0.2 * start
