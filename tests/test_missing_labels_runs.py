"tools/missing_labels_runs.py, the script behind lesson 10's table: a tiny run end to end, and its scoring."
import importlib.util, json
from pathlib import Path
import numpy as np, pytest, torch

spec = importlib.util.spec_from_file_location("missing_labels_runs", Path(__file__).parents[1]/"tools"/"missing_labels_runs.py")
mlr = importlib.util.module_from_spec(spec); spec.loader.exec_module(mlr)


def test_precision_at_k_counts_removed_labels_among_the_top_k():
    P = torch.tensor([[0.9, 0.5], [0.1, 0.7], [0.6, 0.2]])
    Y = torch.tensor([[0., 1.], [0., 0.], [0., 0.]])      # row 0 is annotated with label 1, which the model doubts
    T = torch.tensor([[0., 0.], [0., 1.], [0., 0.]])      # k = 1: the removed label is (1, 1)
    assert mlr.precision_at_k(P, Y, T, "prob") == 0.0     # by prob, (0, 0) at 0.9 comes first
    assert mlr.precision_at_k(P, Y, T, "agreement") == 1.0  # by agreement (0, 0) scores 0.45, below (1, 1) at 0.7
    T2 = torch.tensor([[1., 0.], [0., 0.], [1., 0.]])     # k = 2: removed (0, 0) and (2, 0)
    assert mlr.precision_at_k(P, Y, T2, "prob") == 0.5    # top two by prob: (0, 0) yes, (1, 1) no


def test_a_tiny_run_and_its_ensemble(tmp_path):
    args = ["tiny", "--seed", "3", "--out", str(tmp_path), "n=300", "epochs=1", "widths=8,16", "convs=1", "aug=flip", "tta=1"]
    res = mlr.main(args)
    assert res["k"] > 0 and 0 <= res["precision_prob"] <= 1 and 0 <= res["precision_agreement"] <= 1
    assert (tmp_path/"tiny-s3.npz").is_file()
    ens = mlr.main(["pair", "--seed", "3", "--out", str(tmp_path), "--ensemble", "tiny", "tiny"])
    assert (ens["precision_prob"], ens["precision_agreement"]) == (res["precision_prob"], res["precision_agreement"])
    lines = [json.loads(l) for l in (tmp_path/"results.jsonl").read_text().splitlines()]
    assert [l["name"] for l in lines] == ["tiny", "pair"]
    with pytest.raises(SystemExit, match="Unknown setting"):
        mlr.main(["bad", "--out", str(tmp_path), "depth=3"])


def test_the_table_writes_a_results_file_of_its_rows_and_ensembles(tmp_path, monkeypatch):
    monkeypatch.setattr(mlr, "TABLE", [("a tiny model", "a", ["n=300", "epochs=1", "widths=8,16", "convs=1"]),
                                       ("the same, mirrored", "b", ["n=300", "epochs=1", "widths=8,16", "convs=1", "aug=flip", "tta=1"])])
    monkeypatch.setattr(mlr, "ENSEMBLES", [("both, averaged", "a+b", ["a", "b"])])
    monkeypatch.setattr(mlr, "pretrained_body", lambda: tmp_path/"unused.pt")
    res = mlr.main(["--table", "--seed", "3", "--out", str(tmp_path/"runs"), "--results", str(tmp_path/"results")])
    written = json.loads((tmp_path/"results"/"10_error_analysis_settings.json").read_text())
    assert written["figures"] == res["figures"] and written["mode"] == "full" and written["notebook"] == "10_error_analysis.ipynb"
    names = [f["name"] for f in written["figures"]]
    assert names[:3] == ["row 1, a tiny model: seconds to train", "row 1, a tiny model: precision at k, rank='prob'",
                         "row 1, a tiny model: precision at k, rank='agreement'"] and len(names) == 9
    by = {f["name"]: f["value"] for f in written["figures"]}
    assert by["row 3, both, averaged: seconds to train"] == by["row 1, a tiny model: seconds to train"] + by["row 2, the same, mirrored: seconds to train"]
    assert all(0 <= v <= 1 for n, v in by.items() if "precision" in n)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_device_asks_for_a_gpu_and_says_when_there_is_none(tmp_path):
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        mlr.main(["gpu", "--seed", "3", "--out", str(tmp_path), "--device", "cuda", "n=300", "epochs=1", "widths=8,16", "convs=1"])
    assert mlr.main(["cpu", "--seed", "3", "--out", str(tmp_path), "--device", "cpu", "n=300", "epochs=1",
                     "widths=8,16", "convs=1"])["k"] > 0
