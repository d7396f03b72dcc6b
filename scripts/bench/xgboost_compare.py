#!/usr/bin/env python3
"""Python xgboost on the exact matrix Vigil's classifier is trained on.

The model bench exports the 100,000-row training matrix of `train/100k`
(26 features + the Isolation Forest's anomaly score, label, weight), the
test rows after it, and the Rust model's probabilities of those test rows.
This script fits xgboost with the parameters of Vigil's `GbdtParams` on one
thread, times fit() (median of --repeats), and computes the average
precision of both models on the same test rows with scikit-learn, so one
AP implementation judges both. When the criterion results of the bench are
in target/criterion it prints the Rust fit times next to xgboost's.

Run from the repository root:

    VIGIL_EXPORT_MATRIX=/tmp/vigil-matrix cargo bench -p vigil-core --bench model
    python3 -m venv /tmp/xgb-venv
    /tmp/xgb-venv/bin/pip install xgboost scikit-learn numpy
    /tmp/xgb-venv/bin/python scripts/bench/xgboost_compare.py /tmp/vigil-matrix

(`cargo bench ... --bench model -- train/` runs only the training benches.)
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import numpy as np
import sklearn
import xgboost
from sklearn.metrics import average_precision_score

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(path):
    """Inputs, labels and weights of one exported CSV."""
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    label, weight = header.index("label"), header.index("weight")
    inputs = [i for i, name in enumerate(header) if name not in ("label", "weight")]
    return data[:, inputs], data[:, label], data[:, weight], [header[i] for i in inputs]


def criterion_median_seconds(criterion_dir, bench):
    """The median of a criterion bench in seconds, or None if it has not run."""
    path = criterion_dir / bench / "new" / "estimates.json"
    try:
        estimates = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return estimates["median"]["point_estimate"] / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dir",
        nargs="?",
        default=os.environ.get("VIGIL_EXPORT_MATRIX", "/tmp/vigil-matrix"),
        help="the VIGIL_EXPORT_MATRIX directory of the model bench",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed fits (median)")
    parser.add_argument(
        "--criterion-dir",
        type=pathlib.Path,
        default=pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion",
    )
    args = parser.parse_args()
    d = pathlib.Path(args.dir)

    x_train, y_train, w_train, names = load(d / "train.csv")
    x_test, y_test, _, test_names = load(d / "test.csv")
    assert names == test_names, "train.csv and test.csv have different columns"
    rust_scores = np.loadtxt(d / "rust_scores.csv", delimiter=",", skiprows=1, ndmin=1)
    assert len(rust_scores) == len(y_test), "rust_scores.csv does not match test.csv"
    frauds = int(y_train.sum())
    print(
        f"data: {len(y_train)} training rows x {x_train.shape[1]} inputs "
        f"({frauds} frauds, fraud weight {w_train[y_train == 1].max():.4f}), "
        f"{len(y_test)} test rows ({int(y_test.sum())} frauds)"
    )

    # Vigil's GbdtParams::default(), in xgboost's names.
    params = dict(
        tree_method="hist",
        n_jobs=1,
        n_estimators=100,
        max_depth=6,
        learning_rate=0.1,
        min_child_weight=1,
        reg_lambda=1,
        max_bin=256,
        objective="binary:logistic",
    )
    seconds = []
    model = None
    for _ in range(args.repeats):
        model = xgboost.XGBClassifier(**params)
        started = time.perf_counter()
        model.fit(x_train, y_train, sample_weight=w_train)
        seconds.append(time.perf_counter() - started)
    xgb_fit = statistics.median(seconds)
    xgb_ap = average_precision_score(y_test, model.predict_proba(x_test)[:, 1])
    rust_ap = average_precision_score(y_test, rust_scores)

    print(
        f"versions: xgboost {xgboost.__version__}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, python {sys.version.split()[0]}"
    )
    print(
        f"xgboost fit (1 thread): median {xgb_fit:.3f}s of {args.repeats} "
        f"({', '.join(f'{s:.3f}' for s in seconds)})"
    )
    print(f"average precision on the test rows (scikit-learn): xgboost {xgb_ap:.4f}, Vigil {rust_ap:.4f}")
    classifier = criterion_median_seconds(args.criterion_dir, "train/100k_classifier")
    whole = criterion_median_seconds(args.criterion_dir, "train/100k")
    if classifier is not None:
        print(
            f"Vigil classifier fit (forust, 1 thread, criterion train/100k_classifier): "
            f"median {classifier:.3f}s = {classifier / xgb_fit:.2f}x xgboost"
        )
    if whole is not None:
        print(f"Vigil train() incl. Isolation Forest and evaluation (criterion train/100k): median {whole:.3f}s")
    if classifier is None and whole is None:
        print(f"(no criterion results under {args.criterion_dir}: run the model bench for the Rust times)")


if __name__ == "__main__":
    main()
