#!/usr/bin/env python3
"""Evidently's DataDriftPreset on the exact windows Vigil's drift check bench runs on.

The drift bench (core/benches/drift.rs) exports the 5,000-row reference
and 1,000-row current windows of the default synthetic population — the
11 monitored columns: 9 numeric features, `channel` and `country` — and
the per-feature results of Vigil's check with the default tests (normed
Wasserstein for numeric, Jensen-Shannon for categorical features) and with
KS for the numeric ones. This script declares the same numeric and
categorical columns to Evidently, runs DataDriftPreset with the same tests
set explicitly (num: wasserstein / ks, cat: jensenshannon; thresholds left
at Evidently's defaults, 0.1 and 0.05, which are Vigil's), times
`report.run(...)` (median of --repeats after one untimed warm-up run),
prints Evidently's drift score and decision per feature next to Vigil's
and flags every decision that differs. When the criterion results of the
bench are in target/criterion it prints Vigil's check times next to
Evidently's.

Run from the repository root:

    VIGIL_EXPORT_DRIFT=/tmp/vigil-drift cargo bench -p vigil-core --bench drift
    python3.11 -m venv /tmp/evidently-venv
    /tmp/evidently-venv/bin/pip install evidently 'pandas<3'
    /tmp/evidently-venv/bin/python scripts/bench/evidently_compare.py /tmp/vigil-drift

Written against Evidently 0.7.23 (what `pip install evidently` gives on
Python 3.11; pandas 2.3, scipy 1.17). Evidently 0.7.23 does not import
with pandas 3 (it uses the removed
`pandas.core.dtypes.common.infer_dtype_from_object`): hence 'pandas<3'.

Two APIs are timed, each that is importable (`--api` picks one):

- new (>= 0.7): `from evidently import Report, Dataset, DataDefinition`,
  `from evidently.presets import DataDriftPreset(num_method=,
  cat_method=)`, `report.run(current, reference)`. Its run() also renders
  the report's widgets (plotly figures per column), most of its time, and
  computes each column's drift three times (the ValueDrift metrics, then
  DatasetDriftMetric and DataDriftTable for the rendering).
- legacy (0.4-0.6: `from evidently.report import Report`,
  `from evidently.metric_preset import DataDriftPreset(num_stattest=,
  cat_stattest=)` with a `ColumnMapping`; the same code ships in 0.7 as
  `evidently.legacy`): run() computes the results only (drift per column,
  twice: DatasetDriftMetric and DataDriftTable), no rendering. The closer
  match to what Vigil's check() computes.
"""

import argparse
import json
import math
import os
import pathlib
import statistics
import sys
import time

# No usage telemetry from Evidently while timing.
os.environ.setdefault("DO_NOT_TRACK", "1")

import evidently  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Vigil's NUMERIC_FEATURES and CATEGORICAL_FEATURES (actors/src/drift_checker.rs).
NUMERIC = [
    "amount",
    "amount_zscore",
    "user_txn_count_1h",
    "user_txn_count_24h",
    "user_amount_sum_1h",
    "user_amount_sum_24h",
    "unique_countries_24h",
    "unique_merchants_24h",
    "hour_of_day",
]
CATEGORICAL = ["channel", "country"]
CATEGORICAL_TEST = "jensenshannon"
# Evidently's decision rule per test (as in its stattests): distances drift
# at or above the threshold, KS when p <= threshold.
P_VALUE_TESTS = {"ks", "chisquare"}
# Criterion bench of the Rust check run with each numeric test.
CRITERION_BENCH = {"wasserstein": "drift/check_wasserstein", "ks": "drift/check_ks"}


def load(path):
    """One exported window. Country codes are kept as text: pandas would
    read Namibia's "NA" as a missing value."""
    frame = pd.read_csv(
        path,
        dtype={c: str for c in CATEGORICAL},
        keep_default_na=False,
        na_values={c: [""] for c in NUMERIC},
    )
    assert list(frame.columns) == NUMERIC + CATEGORICAL, f"{path}: unexpected columns {list(frame.columns)}"
    return frame


def evidently_version():
    return getattr(evidently, "__version__", None) or getattr(evidently, "version", "?")


def has_legacy_in_new():
    """Whether the 0.4-0.6 API is importable as evidently.legacy (0.7)."""
    try:
        from evidently.legacy.report import Report  # noqa: F401
    except ImportError:
        return False
    return True


def has_new_api():
    try:
        from evidently import DataDefinition, Dataset, Report  # noqa: F401
        from evidently.presets import DataDriftPreset  # noqa: F401
    except ImportError:
        return False
    return True


class NewApi:
    """Evidently >= 0.7."""

    name = "evidently.Report + evidently.presets.DataDriftPreset (>= 0.7)"
    short = "new"

    def __init__(self, reference, current):
        from evidently import DataDefinition, Dataset

        definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
        started = time.perf_counter()
        self.reference = Dataset.from_pandas(reference, data_definition=definition)
        self.current = Dataset.from_pandas(current, data_definition=definition)
        self.prepare_seconds = time.perf_counter() - started

    def report(self, numeric_test):
        from evidently import Report
        from evidently.presets import DataDriftPreset

        return Report([DataDriftPreset(num_method=numeric_test, cat_method=CATEGORICAL_TEST)])

    def run(self, report):
        return report.run(self.current, self.reference)

    @staticmethod
    def results(snapshot):
        """{column: (test, score, threshold, drifted)} and the drifted count
        Evidently reports itself."""
        out, count = {}, None
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            kind = config["type"].rsplit(":", 1)[-1]
            if kind == "ValueDrift":
                test, score, threshold = config["method"], float(metric["value"]), config["threshold"]
                drifted = score <= threshold if test in P_VALUE_TESTS else score >= threshold
                out[config["column"]] = (test, score, threshold, drifted)
            elif kind == "DriftedColumnsCount":
                count = int(metric["value"]["count"])
        return out, count


class LegacyApi:
    """Evidently 0.4-0.6 (or evidently.legacy of 0.7)."""

    short = "legacy"

    def __init__(self, reference, current):
        try:
            from evidently.legacy.pipeline.column_mapping import ColumnMapping

            self.name = "evidently.legacy Report + DataDriftPreset (0.4-0.6 API)"
        except ImportError:
            from evidently.pipeline.column_mapping import ColumnMapping

            self.name = "evidently.report.Report + evidently.metric_preset.DataDriftPreset (0.4-0.6)"
        self.reference, self.current = reference, current
        self.mapping = ColumnMapping(numerical_features=NUMERIC, categorical_features=CATEGORICAL)
        self.prepare_seconds = 0.0

    def report(self, numeric_test):
        try:
            from evidently.legacy.metric_preset import DataDriftPreset
            from evidently.legacy.report import Report
        except ImportError:
            from evidently.metric_preset import DataDriftPreset
            from evidently.report import Report

        return Report(metrics=[DataDriftPreset(num_stattest=numeric_test, cat_stattest=CATEGORICAL_TEST)])

    def run(self, report):
        report.run(reference_data=self.reference, current_data=self.current, column_mapping=self.mapping)
        return report

    @staticmethod
    def results(report):
        out, count = {}, None
        for metric in report.as_dict()["metrics"]:
            result = metric["result"]
            if "drift_by_columns" in result:
                for column, r in result["drift_by_columns"].items():
                    out[column] = (
                        legacy_test_name(r["stattest_name"]),
                        float(r["drift_score"]),
                        r["stattest_threshold"],
                        bool(r["drift_detected"]),
                    )
            elif "number_of_drifted_columns" in result:
                count = int(result["number_of_drifted_columns"])
        return out, count


def legacy_test_name(display_name):
    """The stattest name of a legacy result's display name ("Wasserstein
    distance (normed)", "K-S p_value", "Jensen-Shannon distance", …)."""
    key = "".join(ch for ch in display_name.lower() if ch.isalnum())
    for prefix, name in [
        ("wasserstein", "wasserstein"),
        ("ks", "ks"),
        ("jensenshannon", "jensenshannon"),
        ("psi", "psi"),
        ("chisquare", "chisquare"),
    ]:
        if key.startswith(prefix):
            return name
    return display_name


def criterion_median_seconds(criterion_dir, bench):
    """The median of a criterion bench in seconds, or None if it has not run."""
    path = criterion_dir / bench / "new" / "estimates.json"
    try:
        estimates = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return estimates["median"]["point_estimate"] / 1e9


def fmt_score(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.6g}" if abs(x) >= 1e-4 or x == 0 else f"{x:.3e}"


def compare(numeric_test, api, vigil, repeats, criterion_dir):
    """Times and compares one configuration; returns the number of decision
    mismatches and Evidently's median seconds."""
    report = api.report(numeric_test)
    started = time.perf_counter()
    api.run(report)
    warm_up = time.perf_counter() - started
    seconds = []
    for _ in range(repeats):
        report = api.report(numeric_test)
        started = time.perf_counter()
        result = api.run(report)
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    ours, count = api.results(result)

    print(f"\n== numeric test {numeric_test}, categorical test {CATEGORICAL_TEST} ==")
    print(
        f"Evidently report.run: median {median * 1e3:.1f} ms of {repeats} "
        f"({', '.join(f'{s * 1e3:.1f}' for s in seconds)} ms; untimed warm-up run {warm_up * 1e3:.1f} ms)"
    )
    vigil_median = criterion_median_seconds(criterion_dir, CRITERION_BENCH[numeric_test])
    if vigil_median is not None:
        print(
            f"Vigil check() (criterion {CRITERION_BENCH[numeric_test]}): median {vigil_median * 1e3:.3f} ms "
            f"-> Evidently / Vigil = {median / vigil_median:.0f}x"
        )
    else:
        print(f"(no criterion result {CRITERION_BENCH[numeric_test]} under {criterion_dir}: run the drift bench)")

    print(f"{'feature':<22} {'test':<13} {'Evidently':>12} {'Vigil':>12} {'|diff|':>9}  drift E/V")
    vigil_rows = {f["feature"]: f for f in vigil}
    mismatches, max_rel = 0, 0.0
    for column in NUMERIC + CATEGORICAL:
        if column not in ours:
            print(f"{column:<22} missing from Evidently's results")
            mismatches += 1
            continue
        test, e_score, _, e_drift = ours[column]
        v = vigil_rows.get(column)
        if v is None:
            print(f"{column:<22} missing from vigil.json")
            mismatches += 1
            continue
        v_score, v_drift = v["drift_score"], v["drift_detected"]
        flag = ""
        if test != v["stattest"]:
            flag += f"  TEST DIFFERS (Vigil {v['stattest']})"
        if e_drift != v_drift:
            flag += "  DECISION MISMATCH"
            mismatches += 1
        diff = abs(e_score - v_score) if v_score is not None else float("nan")
        if v_score is not None and max(abs(e_score), abs(v_score)) > 1e-300:
            max_rel = max(max_rel, diff / max(abs(e_score), abs(v_score)))
        yn = {True: "yes", False: "no"}
        print(
            f"{column:<22} {test:<13} {fmt_score(e_score):>12} {fmt_score(v_score):>12} "
            f"{fmt_score(diff):>9}  {yn[e_drift]:>3}/{yn[v_drift]}{flag}"
        )
    drifted_e = sum(1 for r in ours.values() if r[3])
    drifted_v = sum(1 for f in vigil if f["drift_detected"])
    print(
        f"drifted: Evidently {drifted_e} of {len(ours)} (its own count: {count}), Vigil {drifted_v} of {len(vigil)}; "
        f"decisions {'agree' if mismatches == 0 else f'DIFFER on {mismatches} feature(s)'}; "
        f"largest relative score difference {max_rel:.1e}"
    )
    return mismatches, median


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "dir",
        nargs="?",
        default=os.environ.get("VIGIL_EXPORT_DRIFT", "/tmp/vigil-drift"),
        help="the VIGIL_EXPORT_DRIFT directory of the drift bench",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median)")
    parser.add_argument(
        "--tests",
        default="wasserstein,ks",
        help="numeric tests to compare, comma-separated (wasserstein, ks)",
    )
    parser.add_argument(
        "--api",
        choices=["all", "new", "legacy"],
        default="all",
        help="Evidently API: new (>= 0.7), legacy (0.4-0.6, or evidently.legacy of 0.7), all: each one present",
    )
    parser.add_argument(
        "--criterion-dir",
        type=pathlib.Path,
        default=pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion",
    )
    args = parser.parse_args()
    d = pathlib.Path(args.dir)

    reference, current = load(d / "reference.csv"), load(d / "current.csv")
    vigil = json.loads((d / "vigil.json").read_text())
    tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    for test in tests:
        if test not in vigil:
            sys.exit(f"vigil.json has no results for numeric test {test!r} (it has {sorted(vigil)})")
    new = has_new_api()
    if args.api == "new" and not new:
        sys.exit(f"Evidently {evidently_version()} has no evidently.presets API (>= 0.7)")
    apis = []
    if args.api in ("all", "new") and new:
        apis.append(NewApi(reference, current))
    if args.api == "legacy" or (args.api == "all" and (not new or has_legacy_in_new())):
        apis.append(LegacyApi(reference, current))
    print(
        f"data: {len(reference)} reference rows, {len(current)} current rows; "
        f"{len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical columns"
    )
    print(
        f"versions: evidently {evidently_version()}, pandas {pd.__version__}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, python {sys.version.split()[0]}"
    )

    mismatches, summary = 0, []
    for api in apis:
        print(f"\n##### API: {api.name}")
        if api.prepare_seconds:
            print(f"Dataset.from_pandas of both windows (not timed below): {api.prepare_seconds * 1e3:.1f} ms")
        for test in tests:
            wrong, median = compare(test, api, vigil[test], args.repeats, args.criterion_dir)
            mismatches += wrong
            summary.append((api.short, test, median, wrong))

    print("\nsummary (medians; Vigil from criterion):")
    for short, test, median, wrong in summary:
        vigil_median = criterion_median_seconds(args.criterion_dir, CRITERION_BENCH[test])
        ratio = f"{median / vigil_median:6.0f}x Vigil ({vigil_median * 1e3:.2f} ms)" if vigil_median else "(no Vigil time)"
        agreement = "decisions agree" if wrong == 0 else f"{wrong} decision(s) differ"
        print(f"  {short:<7} num={test:<12} Evidently {median * 1e3:8.1f} ms  {ratio}  {agreement}")
    if mismatches:
        print(f"\n{mismatches} decision mismatch(es) between Evidently and Vigil")
        sys.exit(1)
    print("\nEvidently and Vigil agree on every drift decision")


if __name__ == "__main__":
    main()
