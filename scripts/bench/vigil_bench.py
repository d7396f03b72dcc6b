"""Helpers shared by the Python benchmark scripts: run target/release/vigil,
read its Prometheus metrics, find free ports."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGIL = os.environ.get("VIGIL_BIN", os.path.join(ROOT, "target", "release", "vigil"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    """Every sample of /metrics: `name` sums all label sets, `name{…}` is one."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            values.setdefault(name, 0.0)
            values[name] += value
            if labels:
                values[name + labels] = value
    return values


def wait_http(port, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit("vigil did not answer /health")


def wait_for_model(port, proc, log_path, timeout=900):
    deadline = time.time() + timeout
    while metrics(port).get("fraud_model_version", 0) == 0:
        if proc.poll() is not None:
            raise SystemExit(f"vigil exited; see {log_path}")
        if time.time() > deadline:
            raise SystemExit(f"no model in production after {timeout} s (was training skipped?); see {log_path}")
        time.sleep(1)


def serve(env, log):
    return subprocess.Popen([VIGIL, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_broker(directory):
    """A tansu broker on a free port (scripts/kafka-broker); its address."""
    return subprocess.run(
        [os.path.join(ROOT, "scripts", "kafka-broker"), "start", directory, str(free_port())],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def stop_broker(directory):
    subprocess.run([os.path.join(ROOT, "scripts", "kafka-broker"), "stop", directory])


def create_postgres_database(prefix):
    """A fresh database on the local PostgreSQL; its URL."""
    import uuid

    name = prefix + uuid.uuid4().hex[:8]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
        check=True,
    )
    return f"postgres://postgres@127.0.0.1:5432/{name}"
