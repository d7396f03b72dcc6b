//! The `vigil` binary: configuration errors, `vigil config`, `vigil migrate`.

use std::process::Command;

fn vigil(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(dir);
    // The tests' own environment must not leak configuration in.
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIL_") {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn an_unknown_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vigil.toml"), "[producer]\nrat = 5\n").unwrap();
    let output = vigil(dir.path()).arg("serve").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rat"), "{stderr}");

    let output = vigil(dir.path())
        .arg("config")
        .env("VIGIL_PRODUCER_SPEED", "3")
        .arg("--config")
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("speed"));
}

#[test]
fn config_prints_the_effective_layers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vigil.toml"),
        "seed = 7\n[producer]\nrate = 2.0\n",
    )
    .unwrap();
    let output = vigil(dir.path())
        .env("VIGIL_PRODUCER_RATE", "3")
        .args(["config", "--backfill-days", "4"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(printed["seed"].as_integer(), Some(7));
    assert_eq!(printed["producer"]["rate"].as_float(), Some(3.0));
    assert_eq!(printed["backfill"]["days"].as_integer(), Some(4));
    assert_eq!(printed["http"]["addr"].as_str(), Some("127.0.0.1:8000"));
}

#[test]
fn migrate_creates_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let status = vigil(dir.path())
        .args(["migrate", "--data-dir", "store"])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("store/vigil.db").exists());
}
