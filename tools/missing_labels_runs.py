"""The runs behind the table in lesson 10: precision at k of `likely_missing_labels` for one model configuration.

Trains on one half of a collage with 10% of its labels removed, predicts the other half, and ranks that half's
unannotated pairs both ways (`rank="prob"` and `rank="agreement"`), k = the removed labels in that half.

    python tools/missing_labels_runs.py NAME --seed 1 [key=value ...]      # e.g. aug=flip tta=1 mseed=1

Keys (defaults in CONFIG): size, widths, convs, epochs, lr, wd, bs, aug (''/flip/shift), tta (0/1), mode (RGB/L),
pre (a state-dict file to start from), n (collage images), mseed (model and order seed). Each run appends a JSON
line to `<out>/results.jsonl` and saves the held-out logits as `<out>/<NAME>-s<seed>.npz`, so that
ensembles can be scored afterwards with `--ensemble NAME NAME ...` (logits averaged).
It trains on the GPU where there is one (`--device cpu` or `--device cuda` chooses).

    python tools/missing_labels_runs.py --table [--seed 1]     # every row of lesson 10's table, then its ensembles

`--table` runs the rows of `TABLE` and the ensembles of `ENSEMBLES` and writes their figures to
`results/10_error_analysis_settings.json` (the course's results format: commit, date, machine, wall time, peak memory),
which lesson 10 shows. About 40 minutes at one thread on 2 cores.
"""
import argparse, json, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn as nn

CONFIG = dict(size=32, widths="48,96,192", convs=2, epochs=15, lr=1e-2, wd=0.01, bs=64, aug="", tta=0, mode="RGB",
              pre="", n=20_000, mseed=0)

PRE = "pre={pre}"   # lesson 06's full-mode pretrained body (trained and saved by lesson 06 when missing)
TABLE = [  # (row of lesson 10's table, run name, settings)
    ("one model: widths 48-96-192, two convolutions per block, 15 epochs", "base", []),
    ("the same, mirrored in training and at test time", "flip", ["aug=flip", "tta=1"]),
    ("the same, another random start", "flip-m1", ["aug=flip", "tta=1", "mseed=1"]),
    ("the same, also shifted by up to 10% in training", "shift", ["aug=shift", "tta=1"]),
    ("lesson 06's pretrained body (widths 32-64-128) fine-tuned at 64x64 in grayscale, 8 epochs", "pre",
     [PRE, "size=64", "mode=L", "widths=32,64,128", "epochs=8"]),
    ("the same, mirrored in training and at test time", "pre-flip",
     [PRE, "size=64", "mode=L", "widths=32,64,128", "epochs=8", "aug=flip", "tta=1"]),
]
ENSEMBLES = [("the two mirrored models of rows 2 and 3, logits averaged: the lesson's recipe", "flip+flip-m1", ["flip", "flip-m1"]),
             ("the mirrored model of row 2 and the pretrained model of row 5, logits averaged", "flip+pre", ["flip", "pre"])]

def pretrained_body():
    "The file of lesson 06's full-mode pretrained SimpleCNN (widths 32-64-128, two convolutions, 60,000 images, 8 epochs)."
    from mlcourse.core import data_dir
    f = data_dir("pretrained")/"fashion-mnist-simplecnn-w32-64-128-c2-n60000-e8.pt"
    if not f.is_file():
        from mlcourse.core import seed_everything
        from mlcourse.datasets import fashion_mnist
        from mlcourse.data import TensorLoader
        from mlcourse.models import SimpleCNN
        from mlcourse.train import fit
        seed_everything(0)
        net, (x, y) = SimpleCNN(in_ch=1, n_out=10, widths=(32, 64, 128), n_convs=2), fashion_mnist("train")
        fit(net, TensorLoader(x, y, bs=128, shuffle=True, seed=0), None, epochs=8, loss_fn=nn.CrossEntropyLoss(), lr=3e-3)
        torch.save(net.state_dict(), f)
    return f

def table(seed, out, results):
    "Run every row of TABLE and ENSEMBLES; write their figures to `results`/10_error_analysis_settings.json."
    sys.path.insert(0, str(Path(__file__).parent))
    from run_course import machine, commit
    import resource
    from datetime import datetime
    t0, figs, pre = time.time(), [], str(pretrained_body())
    def fig(name, v, fmt): figs.append({"name": name, "value": v, "shown": fmt.format(v)})
    rows = [(row, name, main([name, "--seed", str(seed), "--out", str(out), *[s.format(pre=pre) for s in settings]]))
            for row, name, settings in TABLE]
    rows += [(row, name, main([name, "--seed", str(seed), "--out", str(out), "--ensemble", *runs])) for row, name, runs in ENSEMBLES]
    for i, (row, name, res) in enumerate(rows, 1):
        if "train_s" in res: fig(f"row {i}, {row}: seconds to train", res["train_s"], "{:.0f}")
        else: fig(f"row {i}, {row}: seconds to train", sum(r["train_s"] for _, n, r in rows if n in res["ensemble"]), "{:.0f}")
        for r in ("prob", "agreement"): fig(f"row {i}, {row}: precision at k, rank='{r}'", res[f"precision_{r}"], "{:.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = {"notebook": "10_error_analysis.ipynb", "mode": "full", "commit": commit(), "date": f"{datetime.now():%Y-%m-%d %H:%M}",
           "machine": machine(), "wall_s": round(time.time() - t0, 1), "peak_rss_mib": round(peak / 1024),
           "settings": {"make_collage seed": seed, "k": rows[0][2]["k"],
                        "rows": {n: s for _, n, s in TABLE}, "ensembles": {n: r for _, n, r in ENSEMBLES}},
           "figures": figs}
    Path(results).mkdir(parents=True, exist_ok=True)
    (Path(results)/"10_error_analysis_settings.json").write_text(json.dumps(res, indent=1) + "\n")
    return res

def precision_at_k(probs, annotated, removed, rank):
    "Share of the top k candidates of `likely_missing_labels` that are removed labels (k = number removed)."
    from mlcourse.interpret import likely_missing_labels
    k = int(removed.sum())
    df = likely_missing_labels(probs, annotated, k=k, min_prob=0.0, rank=rank)
    return float(removed[torch.tensor(df["image"].tolist()), torch.tensor(df["label"].astype(int).tolist())].mean())

DEVICE = None   # where to train and predict: None lets get_device pick (the GPU where there is one); --device sets it

def run(name, seed, cfg, out):
    from mlcourse.core import seed_everything
    from mlcourse.datasets import make_collage, FASHION_LABELS
    from mlcourse.data import MultiLabelImageFolder, TensorLoader, Augment
    from mlcourse.models import SimpleCNN, replace_head
    from mlcourse.train import fit, predict
    import pandas as pd
    root = make_collage(n=cfg["n"], missing=0.1, seed=seed)
    ds = MultiLabelImageFolder(root, size=cfg["size"], verbose=False, mode=cfg["mode"], labels=FASHION_LABELS)
    removed = torch.zeros_like(ds.targets)
    row_of = {nm: i for i, nm in enumerate(ds.names)}
    rem = pd.read_csv(root/"removed_labels.csv")
    for im, lab in zip(rem["image"], rem["label"]): removed[row_of[im.removesuffix(".jpg")], FASHION_LABELS.index(lab)] = 1
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    tr, va = perm[: len(ds) // 2], perm[len(ds) // 2:]
    aug = {"": None, "flip": Augment(flip=0.5), "shift": Augment(flip=0.5, translate=0.1)}[cfg["aug"]]
    seed_everything(cfg["mseed"])
    model = SimpleCNN(in_ch=1 if cfg["mode"] == "L" else 3, n_out=len(FASHION_LABELS),
                      widths=tuple(int(w) for w in str(cfg["widths"]).split(",")), n_convs=cfg["convs"])
    if cfg["pre"]:
        model.load_state_dict(torch.load(cfg["pre"], weights_only=True)); replace_head(model, len(FASHION_LABELS))
    dl = TensorLoader(ds.images[tr], ds.targets[tr], bs=cfg["bs"], shuffle=True, seed=cfg["mseed"], augment=aug, device=DEVICE)
    t0 = time.time()
    h = fit(model, dl, None, epochs=cfg["epochs"], loss_fn=nn.BCEWithLogitsLoss(), lr=cfg["lr"], wd=cfg["wd"],
            progress=False, device=DEVICE)
    secs = time.time() - t0
    logits = predict(model, TensorLoader(ds.images[va], ds.targets[va], bs=500, device=DEVICE), device=DEVICE,
                     tta=bool(cfg["tta"]))[0].float().cpu()   # numpy and the scores below want CPU tensors
    Y, T = ds.targets[va], removed[va]
    np.savez(out/f"{name}-s{seed}.npz", logits=logits.numpy(), Y=Y.numpy(), T=T.numpy())
    return dict(name=name, seed=seed, cfg=cfg, k=int(T.sum()), train_s=round(secs), train_loss=h.records[-1]["train_loss"],
                **score(torch.sigmoid(logits), Y, T))

def score(P, Y, T): return {f"precision_{r}": round(precision_at_k(P, Y, T, r), 4) for r in ("prob", "agreement")}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?"); ap.add_argument("settings", nargs="*", help="key=value, or run names with --ensemble")
    ap.add_argument("--seed", type=int, default=1, help="make_collage seed (choose on 1, report on another)")
    ap.add_argument("--out", default="_out/missing-labels")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: the GPU where there is one, else the CPU)")
    ap.add_argument("--ensemble", action="store_true", help="score the average logits of the named runs")
    ap.add_argument("--table", action="store_true", help="run lesson 10's table and write results/10_error_analysis_settings.json")
    ap.add_argument("--results", default=str(Path(__file__).resolve().parent.parent/"results"), help="where --table writes")
    a = ap.parse_intermixed_args(argv)
    global DEVICE; DEVICE = a.device
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if a.table: return table(a.seed, out, a.results)
    if a.name is None: ap.error("name a run (or give --table)")
    if a.ensemble:
        runs = [np.load(out/f"{n}-s{a.seed}.npz") for n in a.settings]
        if any((r["Y"] != runs[0]["Y"]).any() for r in runs): sys.exit("These runs did not predict the same images.")
        P = torch.sigmoid(torch.as_tensor(np.mean([r["logits"] for r in runs], 0)))
        res = dict(name=a.name, seed=a.seed, ensemble=a.settings, k=int(runs[0]["T"].sum()),
                   **score(P, torch.as_tensor(runs[0]["Y"]), torch.as_tensor(runs[0]["T"])))
    else:
        cfg = dict(CONFIG)
        for kv in a.settings:
            key, _, val = kv.partition("=")
            if key not in cfg: sys.exit(f"Unknown setting {key!r}: choose from {', '.join(cfg)}.")
            cfg[key] = type(cfg[key])(val)
        res = run(a.name, a.seed, cfg, out)
    print(json.dumps(res))
    with open(out/"results.jsonl", "a") as f: f.write(json.dumps(res) + "\n")
    return res

if __name__ == "__main__": main()
