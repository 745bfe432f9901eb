"""Tests of the models: mlcourse.cnn (lesson 04), mlcourse.resnet (05) and mlcourse.models (06, which re-exports the
other two): shapes, sizes, freezing, pretrained weights offline, summary, and that models learn."""
import os, time
import pytest
import torch
import torch.nn as nn
import torchvision

from mlcourse.models import (SimpleCNN, ResNet, BasicBlock, Bottleneck, mnist_resnet18, TransferModel, ConcatEnsemble,
                             BACKBONES, freeze, unfreeze, param_groups, replace_head, summary, count_params,
                             adapt_input_channels, pretrained_state_dict, weights_path, weights_cached, make_head)


def test_models_reexports_cnn_and_resnet():
    "Every model of the course is importable from mlcourse.models, as the same object as in its own module."
    import mlcourse.cnn, mlcourse.resnet, mlcourse.models
    for mod in (mlcourse.cnn, mlcourse.resnet):
        for name in mod.__all__:
            assert name in mlcourse.models.__all__, f"mlcourse.models does not re-export {name}"
            assert getattr(mlcourse.models, name) is getattr(mod, name)


def test_mnist_resnet18_size_and_shape():
    m = mnist_resnet18()
    assert 44e6 <= count_params(m) <= 45e6
    widths = [m.body[i][0].convs[0][0].out_channels for i in range(2, 6)]
    assert widths == [128, 256, 512, 1024]
    assert m.body[0][0].kernel_size == (5, 5) and m.body[0][0].stride == (1, 1)
    assert isinstance(m.body[1], nn.AdaptiveMaxPool2d) and m.body[1].output_size == 32
    small = mnist_resnet18(base_width=8).eval()
    assert small(torch.rand(3, 1, 64, 64)).shape == (3, 55)
    # base_width scales the parameters about quadratically
    assert 40 < count_params(m) / count_params(small) < 70


def test_resnet_matches_torchvision_param_counts():
    assert count_params(ResNet(BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512))) == count_params(torchvision.models.resnet18())
    assert count_params(ResNet(Bottleneck, (3, 4, 6, 3), (256, 512, 1024, 2048))) == count_params(torchvision.models.resnet50())
    rx = ResNet(Bottleneck, (3, 4, 6, 3), (256, 512, 1024, 2048), groups=32, width_per_group=4)
    assert count_params(rx) == count_params(torchvision.models.resnext50_32x4d())


def test_resnet_bad_config_says_what():
    with pytest.raises(ValueError, match="one entry per stage"): ResNet(layers=(2, 2), widths=(8, 16, 32), strides=(1, 2))
    with pytest.raises(ValueError, match="stem_pool"): ResNet(stem_pool="avg")


@pytest.mark.parametrize("in_ch", [1, 3])
def test_simple_cnn_shapes(in_ch):
    m = SimpleCNN(in_ch=in_ch, n_out=7, widths=(8, 16, 32), hidden=16, dropout=0.1)
    assert m(torch.rand(4, in_ch, 28, 28)).shape == (4, 7)
    assert m(torch.rand(2, in_ch, 64, 64)).shape == (2, 7)  # global pooling: any size


@pytest.mark.parametrize("arch", BACKBONES)
def test_backbones_gray_and_head(arch):
    m = TransferModel(arch, n_out=4, in_ch=1, hidden=8).eval()
    assert m(torch.rand(2, 1, 64, 64)).shape == (2, 4)
    assert isinstance(m.head[-1], nn.Linear) and m.head[-1].in_features == 8


def test_gray_conv_equals_repeated_channels():
    net = torchvision.models.resnet18().eval()
    x = torch.rand(2, 1, 40, 40)
    ref = net(x.repeat(1, 3, 1, 1))
    out = adapt_input_channels(net, 1)(x)
    assert torch.allclose(out, ref, atol=1e-4)


def test_offline_error_is_fast_and_names_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("MLCOURSE_OFFLINE", "1")
    t0 = time.time()
    with pytest.raises(RuntimeError, match="torch hub cache") as e: TransferModel("resnet18", pretrained=True)
    assert time.time() - t0 < 5
    assert "resnet18" in str(e.value) and "pretrained=False" in str(e.value)


def test_unreachable_host_fails_within_seconds(monkeypatch, tmp_path):
    "Without MLCOURSE_OFFLINE, a host that does not answer, or a download that fails, gives the clear error in seconds."
    import mlcourse.models as mm
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("MLCOURSE_OFFLINE", raising=False)
    monkeypatch.setattr(mm, "_HOST", "10.255.255.1")  # non-routable: a connect here would hang without a timeout
    probed = []
    real = mm.socket.create_connection
    monkeypatch.setattr(mm.socket, "create_connection", lambda addr, *a, **kw: (probed.append(addr), real(addr, *a, **kw))[1])
    t0 = time.time()
    with pytest.raises(RuntimeError, match="cannot be reached"): pretrained_state_dict("resnet18", timeout=1.0)
    assert time.time() - t0 < 5
    assert probed[:1] == [("10.255.255.1", 443)], f"the probe went to {probed[:1]}, not to the patched host"


def test_cached_weights_load(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert not weights_cached("mobilenet_v2")
    ref = torchvision.models.mobilenet_v2()
    weights_path("mobilenet_v2").parent.mkdir(parents=True)
    torch.save(ref.state_dict(), weights_path("mobilenet_v2"))
    m = TransferModel("mobilenet_v2", n_out=2, pretrained=True, in_ch=1)
    assert torch.allclose(m.body.features[0][0].weight, ref.features[0][0].weight.sum(1, keepdim=True))
    # a saved state dict by path works too
    p = tmp_path/"mine.pth"; torch.save(ref.state_dict(), p)
    m2 = TransferModel("mobilenet_v2", n_out=2, pretrained=p)
    assert torch.equal(m2.body.features[0][0].weight, ref.features[0][0].weight)


def test_freeze_unfreeze_and_bn():
    m = TransferModel("resnet18", n_out=3)
    n_bn = sum(count_params(l) for l in m.body.modules() if isinstance(l, nn.BatchNorm2d))
    freeze(m)
    assert count_params(m, trainable=True) == count_params(m.head) + n_bn
    freeze(m, train_bn=False)
    assert count_params(m, trainable=True) == count_params(m.head)
    unfreeze(m)
    assert count_params(m, trainable=True) == count_params(m)


def test_frozen_body_does_not_change_in_training():
    torch.manual_seed(0)
    m = SimpleCNN(widths=(4, 8), n_out=3)
    freeze(m, train_bn=False)
    before = [p.clone() for p in m.body.parameters()]
    head_before = m.head[0].weight.clone()
    opt = torch.optim.SGD(param_groups(m, 0.1), lr=0.1)
    x, y = torch.rand(8, 1, 16, 16), torch.randint(0, 3, (8,))
    nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, m.body.parameters()))
    assert not torch.equal(head_before, m.head[0].weight)


def test_param_groups_cover_each_param_once():
    m = mnist_resnet18(base_width=8)
    pg = param_groups(m, 1e-2, n_groups=4, div=100)
    ids = [id(p) for g in pg for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(m.parameters()))
    lrs = [g["lr"] for g in pg]
    assert lrs == sorted(lrs) and abs(lrs[0] - 1e-4) < 1e-12 and lrs[-1] == 1e-2
    with pytest.raises(TypeError, match="body"): param_groups(nn.Linear(2, 2), 1e-3)


def test_ensemble_and_replace_head():
    a, b = SimpleCNN(widths=(4, 8)), mnist_resnet18(base_width=4)
    e = ConcatEnsemble(a, b, n_out=6, hidden=8)
    assert e.n_features == 8 + 64
    assert e(torch.rand(2, 1, 64, 64)).shape == (2, 6)
    assert e.body.bodies[0] is a.body  # the bodies are shared, not copied
    replace_head(e, 2)
    assert e(torch.rand(2, 1, 64, 64)).shape == (2, 2)
    with pytest.raises(TypeError, match="no .body"): ConcatEnsemble(nn.Linear(2, 2), a)


def test_summary_counts():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 10 * 10, 5))
    s = summary(m, (3, 10, 10))
    assert list(s.table["mult-adds"]) == [8 * 10 * 10 * 3 * 9, 0, 0, 800 * 5]
    assert s.params == count_params(m) and s.output_shape == (5,)
    assert list(s.table["output shape"])[0] == (8, 10, 10)
    text = str(s)
    assert "Conv2d" in text and "mult-adds per image" in text
    # grouped levels keep the totals; frozen parameters are reported
    r = freeze(mnist_resnet18(base_width=8), train_bn=False)
    s1, s2 = summary(r, (1, 64, 64), depth=1), summary(r, (1, 64, 64))
    assert s1.macs == s2.macs == s1.table["mult-adds"].sum() == s2.table["mult-adds"].sum()
    assert s1.table["params"].sum() == s2.table["params"].sum() == count_params(r)
    assert s1.trainable == count_params(r.head)
    assert r.training  # training mode restored
    with pytest.raises(ValueError, match="input_size"): summary(m, (10, 10))


def test_simple_cnn_learns_a_toy_task():
    "A bright square top-left vs bottom-right: a few steps must drive the loss well down."
    torch.manual_seed(0)
    x = torch.rand(64, 1, 16, 16) * 0.3
    y = torch.randint(0, 2, (64,))
    for i in range(64):
        if y[i] == 0: x[i, :, :6, :6] += 0.7
        else: x[i, :, -6:, -6:] += 0.7
    m = SimpleCNN(widths=(8, 16), n_out=2)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    first = None
    for _ in range(30):
        loss = nn.functional.cross_entropy(m(x), y)
        first = first or loss.item()
        opt.zero_grad(); loss.backward(); opt.step()
    assert loss.item() < 0.3 * first
