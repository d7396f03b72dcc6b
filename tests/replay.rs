//! `vigil replay` and `vigil evaluate` through the binary, on small
//! hand-made files whose every number can be worked out by hand.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use sea_orm::EntityTrait;
use vigil_actors::store::entity::{label, raw_event};
use vigil_actors::store::{Store, sqlite_url};
use vigil_core::features::FeatureVector;
use vigil_core::replay::transaction_uuid;

const HANDBOOK_MAP: &str = "transaction_id=TX_ID,user_id=CUSTOMER_ID,merchant_id=TERMINAL_ID,\
                            amount=TX_AMOUNT,timestamp=TX_DATETIME,label=TX_FRAUD";

fn vigil(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIL_") || key == "MLFLOW_TRACKING_URI" {
            command.env_remove(key);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn replay(dir: &Path, data: &str, csv: &Path, delay_days: &str) -> String {
    let output = run(vigil(dir).args([
        "replay",
        "--data-dir",
        data,
        "--csv",
        csv.to_str().unwrap(),
        "--label-delay-days",
        delay_days,
        "--map",
        HANDBOOK_MAP,
    ]));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn store(dir: &Path, data: &str) -> Store {
    let url = sqlite_url(&dir.join(data));
    actix_rt::System::new().block_on(Store::open(&url)).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_rt::System::new().block_on(f)
}

const SMALL: &str = "TX_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n\
                     t1,2018-04-01 10:00:00,c1,m1,10.5,0\n\
                     t2,2018-04-01 11:00:00,c2,m1,999,1\n\
                     t3,2018-04-01 12:00:00,c1,m1,-4,0\n\
                     t4,1522584000,c3,m2,12,0\n\
                     t5,2018-04-01 14:00:00,c3\n\
                     t6,2018-04-01 09:00:00,c2,m2,7.25,0\n";

#[test]
fn replay_keeps_original_ids_reports_bad_lines_and_reads_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("small.csv");
    std::fs::write(&plain, SMALL).unwrap();
    let gz = dir.path().join("small.csv.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    encoder.write_all(SMALL.as_bytes()).unwrap();
    encoder.finish().unwrap();

    for (data, file) in [("plain", &plain), ("gzip", &gz)] {
        let stdout = replay(dir.path(), data, file, "2");
        assert!(
            stdout.contains("skipped line 4: field `amount` must be a finite number ≥ 0"),
            "{stdout}"
        );
        assert!(
            stdout.contains("skipped line 6: missing `amount`"),
            "{stdout}"
        );
        assert!(
            stdout.contains("replayed 4 transactions and 1 labels, 2 bad rows skipped"),
            "{stdout}"
        );
        // t6 comes before t1: the file is sorted.
        assert!(stdout.contains("sorted by timestamp"), "{stdout}");
        assert!(
            stdout.contains("no model in production: features only"),
            "{stdout}"
        );

        let store = store(dir.path(), data);
        let raw = block_on(raw_event::Entity::find().all(store.connection())).unwrap();
        let mut ids: Vec<(String, uuid::Uuid, String)> = raw
            .iter()
            .map(|r| {
                (
                    r.original_id.clone().unwrap(),
                    r.transaction_id,
                    r.source.clone(),
                )
            })
            .collect();
        ids.sort();
        let expected: Vec<(String, uuid::Uuid, String)> = ["t1", "t2", "t4", "t6"]
            .iter()
            .map(|id| (id.to_string(), transaction_uuid(id), "replay".to_string()))
            .collect();
        assert_eq!(ids, expected);
        let t4 = raw
            .iter()
            .find(|r| r.original_id.as_deref() == Some("t4"))
            .unwrap();
        assert_eq!(t4.event_time.to_rfc3339(), "2018-04-01T12:00:00+00:00");

        let labels = block_on(label::Entity::find().all(store.connection())).unwrap();
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].transaction_id, transaction_uuid("t2"));
        assert!(labels[0].is_fraud);
        assert_eq!(
            labels[0].labeled_at.to_rfc3339(),
            "2018-04-03T11:00:00+00:00",
            "label time = transaction time + 2 days"
        );
        assert_eq!(block_on(store.feature_rows()).unwrap().len(), 4);
    }

    // Replaying the same file again stores nothing twice.
    let stdout = replay(dir.path(), "plain", &plain, "2");
    assert!(stdout.contains("replayed 4 transactions"), "{stdout}");
    let store = store(dir.path(), "plain");
    assert_eq!(block_on(store.count_raw_events()).unwrap(), 4);
    assert_eq!(block_on(store.feature_rows()).unwrap().len(), 4);
}

#[test]
fn a_missing_column_stops_the_replay_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.csv");
    std::fs::write(
        &file,
        "TX_ID,TX_DATETIME,CUSTOMER_ID,TX_AMOUNT\n1,1522584000,c,3\n",
    )
    .unwrap();
    let output = vigil(dir.path())
        .args(["replay", "--data-dir", "d", "--csv", file.to_str().unwrap()])
        .args(["--map", HANDBOOK_MAP])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("required field `merchant_id` has no column `TERMINAL_ID`"),
        "{stderr}"
    );
    let output = vigil(dir.path())
        .args(["replay", "--data-dir", "d", "--csv", file.to_str().unwrap()])
        .args(["--map", "card=TX_ID"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown field `card`"));
}

/// Merchant m0: `a` (day 0 at noon, fraud), `b` (day 0 in the evening),
/// then `c` on day 8 and `d` on day 11. Merchant fraud rates look at the
/// complete days before the day of t − the feature label delay (7 days),
/// i.e. day 0 with `a` and `b` for both `c` and `d`, and count a fraud only
/// once its label is known. With a 10-day chargeback delay `a` is known
/// from day 10: `c` sees 0 frauds, `d` sees 1 of 2. With a 1-day delay `c`
/// sees it too.
#[test]
fn a_label_is_invisible_to_features_until_its_delay_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("delay.csv");
    std::fs::write(
        &file,
        "TX_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n\
         a,2018-04-01 12:00:00,u1,m0,500,1\n\
         b,2018-04-01 18:00:00,u2,m0,20,0\n\
         c,2018-04-09 12:00:00,u3,m0,20,0\n\
         d,2018-04-12 12:00:00,u4,m0,20,0\n",
    )
    .unwrap();
    let rate = |data: &str| -> HashMap<String, f64> {
        let rows: HashMap<uuid::Uuid, FeatureVector> =
            block_on(store(dir.path(), data).feature_rows())
                .unwrap()
                .into_iter()
                .collect();
        ["c", "d"]
            .iter()
            .map(|id| {
                (
                    id.to_string(),
                    rows[&transaction_uuid(id)].merchant_fraud_rate_30d,
                )
            })
            .collect()
    };
    replay(dir.path(), "late", &file, "10");
    let late = rate("late");
    assert_eq!(late["c"], 0.0, "the chargeback of a is not known on day 8");
    assert_eq!(late["d"], 0.5);
    replay(dir.path(), "early", &file, "1");
    assert_eq!(rate("early")["c"], 0.5);
}

/// Six card holders, each with two small legitimate purchases a day from
/// 1 to 6 April; frauds are large purchases at m9:
///   Apr 1 u1, Apr 2 u2, Apr 3 u3, Apr 4 u4 and u1, Apr 5 u4 and u5,
///   Apr 6 u6 and u5, all at 10:00 (the second one at 11:00).
/// Chargebacks come a day later. Folds: train 2 days, delay 1, test 2,
/// step 1 → fold 1 trains on Apr 1–2 and tests Apr 4–5, fold 2 trains on
/// Apr 2–3 and tests Apr 5–6. Frauds are far apart from everything else, so
/// every fraud outranks every legitimate row: ROC-AUC = AP = 1.
///
/// Card Precision@2 by hand:
/// - fold 1, Apr 4: u1 (known since Apr 2) and u2 (since Apr 3) are
///   excluded; u4 is the one fraud among u3–u6 → 1/2; u4 detected.
///   Apr 5: u1–u3 known, u4 detected; u5 fraud among u5, u6 → 1/2.
///   Mean 0.5.
/// - fold 2, Apr 5: u1–u3 known (u4's label comes at 10:00); u4 and u5
///   both fraud → 2/2. Apr 6: u1–u4 known, u5 detected; u6 fraud → 1/2.
///   Mean 0.75.
/// - Over folds: mean 0.625, sample std √(2·0.125²) = 0.1768.
#[test]
fn evaluate_measures_every_fold_as_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("folds.csv");
    std::fs::write(&file, folds_file()).unwrap();
    replay(dir.path(), "data", &file, "1");
    let scores = dir.path().join("scores.csv");
    let output = run(vigil(dir.path()).args([
        "evaluate",
        "--data-dir",
        "data",
        "--start",
        "2018-04-01",
        "--train-days",
        "2",
        "--delay-days",
        "1",
        "--test-days",
        "2",
        "--folds",
        "2",
        "--step-days",
        "1",
        "--k",
        "2",
        "--json",
        "--scores-out",
        scores.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let folds = report["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 2);
    for (fold, (train_frauds, card)) in folds.iter().zip([(2, 0.5), (2, 0.75)]) {
        assert_eq!(fold["train_rows"], 24 + 2);
        assert_eq!(fold["train_frauds"], train_frauds, "{fold}");
        assert_eq!(fold["test_rows"], 24 + 4);
        assert_eq!(fold["test_frauds"], 4);
        assert_eq!(fold["roc_auc"], 1.0, "{fold}");
        assert_eq!(fold["average_precision"], 1.0, "{fold}");
        assert_eq!(fold["card_precision_at_k"], card, "{fold}");
    }
    let hits: Vec<Vec<u64>> = folds
        .iter()
        .map(|f| {
            f["days"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["hits"].as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(hits, [[1, 1], [2, 1]]);
    let candidates: Vec<u64> = folds[0]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["candidates"].as_u64().unwrap())
        .collect();
    assert_eq!(candidates, [4, 2]);
    let card = &report["summary"]["card_precision_at_k"];
    assert_eq!(card["mean"], 0.625);
    assert!((card["std"].as_f64().unwrap() - 0.125 * 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(report["summary"]["roc_auc"]["mean"], 1.0);

    // Every scored test transaction, under the id it had in the file.
    let text = std::fs::read_to_string(&scores).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("original_id,fold_start,score"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 28);
    assert_eq!(rows.iter().filter(|r| r[1] == "2018-04-01").count(), 28);
    assert_eq!(rows.iter().filter(|r| r[1] == "2018-04-02").count(), 28);
    let fraud_score = |fold: &str, id: &str| -> f64 {
        rows.iter()
            .find(|r| r[1] == fold && r[0] == id)
            .unwrap_or_else(|| panic!("{id} in fold {fold}"))[2]
            .parse()
            .unwrap()
    };
    let lowest_fraud =
        fraud_score("2018-04-01", "f-04-u4").min(fraud_score("2018-04-01", "f-05-u5"));
    let highest_legit = rows
        .iter()
        .filter(|r| r[1] == "2018-04-01" && !r[0].starts_with("f-"))
        .map(|r| r[2].parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    assert!(lowest_fraud > highest_legit);

    // The table names the metrics with mean ± std.
    let output = run(vigil(dir.path()).args([
        "evaluate",
        "--data-dir",
        "data",
        "--start",
        "2018-04-01",
        "--train-days",
        "2",
        "--delay-days",
        "1",
        "--test-days",
        "2",
        "--folds",
        "2",
        "--step-days",
        "1",
        "--k",
        "2",
    ]));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("card_precision_at_k"), "{table}");
    assert!(table.contains("0.6250 ± 0.1768"), "{table}");
}

/// The file of [`evaluate_measures_every_fold_as_worked_out_by_hand`].
fn folds_file() -> String {
    let frauds = [
        (1, "u1", 10),
        (2, "u2", 10),
        (3, "u3", 10),
        (4, "u4", 10),
        (4, "u1", 11),
        (5, "u4", 10),
        (5, "u5", 10),
        (6, "u6", 10),
        (6, "u5", 11),
    ];
    let mut rows = Vec::new();
    for day in 1..=6 {
        for user in 1..=6 {
            for (n, hour) in [(0, 8), (1, 15)] {
                rows.push((
                    format!("2018-04-0{day} {hour:02}:{user:02}:00"),
                    format!("l-0{day}-u{user}-{n}"),
                    format!("u{user}"),
                    format!("m{}", 1 + (user + n) % 3),
                    format!("{}.5", 10 + user + 3 * n),
                    0,
                ));
            }
        }
        for (_, user, hour) in frauds.iter().filter(|f| f.0 == day) {
            rows.push((
                format!("2018-04-0{day} {hour:02}:00:00"),
                format!("f-0{day}-{user}"),
                user.to_string(),
                "m9".into(),
                "950".into(),
                1,
            ));
        }
    }
    rows.sort();
    let mut text = String::from("TX_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n");
    for (time, id, user, merchant, amount, fraud) in rows {
        text.push_str(&format!("{id},{time},{user},{merchant},{amount},{fraud}\n"));
    }
    text
}

/// `fixtures/replay/sklearn.json`, written once by
/// `scripts/fixtures/replay_evaluation.py`: scikit-learn's ROC-AUC and AP on
/// the scores `vigil evaluate --scores-out` wrote for this gzip file with
/// these flags. Vigil must report the same values (and so also score
/// reproducibly).
#[test]
fn evaluation_metrics_match_scikit_learn_on_the_same_scores() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/replay/sklearn.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay/handbook.csv.gz");
    let stdout = replay(dir.path(), "data", &file, "7");
    assert!(stdout.contains("replayed 6000 transactions"), "{stdout}");
    let flags: Vec<&str> = fixture["evaluate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let output = run(vigil(dir.path())
        .args(["evaluate", "--data-dir", "data", "--json"])
        .args(&flags));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ours = report["folds"].as_array().unwrap();
    let theirs = fixture["folds"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(theirs) {
        assert_eq!(o["test_rows"], t["rows"]);
        assert_eq!(o["test_frauds"], t["frauds"]);
        for metric in ["roc_auc", "average_precision"] {
            let (a, b) = (o[metric].as_f64().unwrap(), t[metric].as_f64().unwrap());
            assert!((a - b).abs() < 1e-9, "{metric}: vigil {a}, sklearn {b}");
        }
    }
}
