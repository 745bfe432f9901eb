"The public names students and outside checks import (DESIGN.md's contract) stay importable from the same modules."
import importlib, inspect
import pytest

CONTRACT = {
    "mlcourse.core": ["seed_everything", "get_device"],
    "mlcourse.data": ["MultiLabelImageFolder", "TensorLoader"],
    "mlcourse.datasets": ["fashion_mnist", "make_collage", "make_multidigit"],
    "mlcourse.models": ["SimpleCNN", "mnist_resnet18", "freeze", "unfreeze", "summary"],
    "mlcourse.train": ["fit", "predict", "lr_find", "Callback", "resolve_precision"],
    "mlcourse.losses": ["SoftF1Loss"],
    "mlcourse.metrics": ["exact_match", "hamming_accuracy", "precision_score", "recall_score", "f1_score",
                         "multilabel_report", "tune_thresholds"],
    "mlcourse.interpret": ["plot_confusion_matrix", "top_losses", "likely_missing_labels"],
}


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_contract_names_import(module):
    m = importlib.import_module(module)
    missing = [n for n in CONTRACT[module] if not hasattr(m, n)]
    assert not missing, f"{module} no longer has {missing}"


def test_fit_and_predict_keep_their_signatures():
    from mlcourse.train import fit, predict
    ps = inspect.signature(fit).parameters
    for k in ("model", "train_dl", "valid_dl", "epochs", "loss_fn", "lr", "opt", "metrics", "checkpoint_dir", "resume"):
        assert k in ps, f"fit lost its {k!r} argument"
    assert list(inspect.signature(predict).parameters)[:2] == ["model", "dl"]
