//! A private PostgreSQL cluster for tests that stop and start the server
//! (store outages): the shared one on 5432 serves the other tests running
//! at the same time, so it must not be stopped.
//!
//! The cluster lives in a temporary directory, listens on a free loopback
//! port with trust authentication, and is stopped when dropped. The server
//! binaries come from Debian's PostgreSQL packages
//! (`/usr/lib/postgresql/<version>/bin`), which the CI machine has; as root
//! they run as the `postgres` user, since PostgreSQL refuses to run as root.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PostgresCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PostgresCluster {
    /// Initialises and starts a cluster with a database `vigil`.
    pub fn start() -> PostgresCluster {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cluster = PostgresCluster {
            bin: server_binaries(),
            port: free_port(),
            dir,
        };
        if running_as_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster.dir.path()));
        }
        run(cluster
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(cluster.data_dir()));
        cluster.start_server();
        run(cluster
            .command("createdb")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(cluster.port.to_string())
            .arg("vigil"));
        cluster
    }

    /// The URL of the `vigil` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/vigil", self.port)
    }

    /// Stops the server the way an operator would (`pg_ctl stop -m fast`):
    /// open connections are terminated, new ones refused.
    pub fn stop_server(&self) {
        run(self
            .command("pg_ctl")
            .args(["stop", "-w", "-m", "fast", "-D"])
            .arg(self.data_dir()));
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .arg("-D")
            .arg(self.data_dir()));
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A server binary, run as `postgres` when the test runs as root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data_dir())
            .output();
    }
}

/// The newest installed server version's binaries.
fn server_binaries() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("PostgreSQL server binaries under {}: {e}", root.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an installed PostgreSQL server (pg_ctl under /usr/lib/postgresql/*/bin)")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
