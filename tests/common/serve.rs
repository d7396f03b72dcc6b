//! Driving a real `vigil serve` process: start it in a directory, read its
//! HTTP API over a socket, signal or kill it, read its log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `vigil serve`, killed when dropped, so that a failing test
/// leaves no process behind.
pub struct Serving(pub Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Serving {
    /// Sends SIGTERM and waits (at most `timeout`) for the process to exit.
    pub fn terminate(mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Starts `vigil serve` in `dir` (its `vigil.toml` and `./data` there) on
/// `port` producing `rate` live transactions per second, with `env` set
/// on top; its log is appended to `dir/vigil.log`.
pub fn start(dir: &Path, port: u16, rate: f64, env: &[(&str, &str)]) -> Serving {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIL_") {
            command.env_remove(key);
        }
    }
    command
        .arg("serve")
        .env("VIGIL_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("VIGIL_PRODUCER_RATE", rate.to_string())
        .env("RUST_LOG", "warn,vigil=info,vigil_actors::bus=info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log_file(dir));
    command.spawn().map(Serving).unwrap()
}

/// The status and body of `GET path`, or None while nothing answers.
pub fn http_get_status(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    Some((status, body.to_owned()))
}

/// The body of `GET path`, or None while nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_get_status(port, path).map(|(_, body)| body)
}

/// A metric without labels, as the process exports it.
pub fn metric(port: u16, name: &str) -> Option<f64> {
    let body = http_get(port, "/metrics")?;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The lifecycle phase `/health` reports, once it answers.
pub fn phase(port: u16) -> Option<String> {
    let body = http_get(port, "/health")?;
    let health: serde_json::Value = serde_json::from_str(&body).ok()?;
    health["phase"].as_str().map(str::to_owned)
}

/// Every start's log, appended to `dir/vigil.log`, so that a timeout can
/// show what the last one was doing.
pub fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("vigil.log"))
        .unwrap()
}

/// The whole log of `vigil serve` in `dir`.
pub fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("vigil.log")).unwrap_or_default()
}

/// The last lines of the log of `vigil serve` in `dir`.
pub fn log_tail(dir: &Path) -> String {
    let log = log(dir);
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Waits until `done`, or fails with the tail of the log in `dir`.
pub fn wait_for(dir: &Path, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the log ends with\n{}",
            log_tail(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The single number `sql` selects from the store at `url`.
pub async fn count(url: &str, sql: &str) -> i64 {
    let db = Database::connect(url).await.unwrap();
    let row = db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ));
    row.await.unwrap().unwrap().try_get_by_index(0).unwrap()
}
