#!/usr/bin/env python3
"""How fast SQLite itself takes replay-shaped rows, with no Vigil code in
the way: the ceiling for `vigil replay` on this machine.

    scripts/bench/sqlite_floor.py STORE.db ROWS [--batch N] [--cache-mib M]

Copies the schema (tables and indexes) of raw_events, transaction_features
and labels from a store Vigil created, into a fresh database in a temporary
directory, with Vigil's pragmas (WAL, synchronous=NORMAL, the page cache
given, checkpoint every 4,000 pages). Then, per transaction of N rows
(default 20,000, Vigil's replay batch), one INSERT … SELECT into raw_events
and one into transaction_features, generated inside SQLite: random 16-byte
UUIDs, 5,500 card holders, 10,000 terminals, increasing ISO timestamps, a
145-byte JSON payload, 26 feature values. No rows cross from Python to
SQLite, so what is measured is SQLite's own work: records, the primary-key
and secondary indexes, WAL and checkpoints. Prints rows/s at every 10 % and
at the end.
"""

import argparse
import os
import sqlite3
import tempfile
import time

TABLES = ("raw_events", "transaction_features", "labels")
PAYLOAD = (
    '{"amount":67.01,"merchant_id":"7758","timestamp":"2018-04-01T00:02:28Z",'
    '"transaction_id":"74e68ee1-9966-513b-886e-2fdf2297a94f","user_id":"3161"}'
)
FEATURES = 26


def schema(store):
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    marks = ",".join("?" * len(TABLES))
    rows = db.execute(
        f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL",
        TABLES,
    ).fetchall()
    db.close()
    if not rows:
        raise SystemExit(f"{store} holds none of {TABLES}: not a Vigil store")
    return [r[0] for r in rows]


def batch_sql(first, size):
    rows = (
        f"WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s "
        f"WHERE i < {first + size - 1}) "
        "SELECT i, randomblob(16) AS id, CAST(abs(random()) % 5500 AS TEXT) AS u, "
        "CAST(abs(random()) % 10000 AS TEXT) AS m, "
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', 1522540800 + i * 7.8, 'unixepoch') AS ts FROM s"
    )
    features = ",".join(["1.5"] * FEATURES)
    return [
        f"CREATE TEMP TABLE b AS {rows}",
        "INSERT INTO raw_events SELECT id, u, m, NULL, 67.01, NULL, NULL, NULL, NULL, ts, "
        f"'{PAYLOAD}', 'replay', CAST(i AS TEXT), ts FROM b",
        # The last column, fraud_known_at, is set by the label path only.
        f"INSERT INTO transaction_features SELECT id, u, m, ts, ts, {features}, NULL FROM b",
        "DROP TABLE b",
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("rows", type=int)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--cache-mib", type=int, default=64)
    args = parser.parse_args()
    ddl = schema(args.store)
    with tempfile.TemporaryDirectory() as work:
        db = sqlite3.connect(os.path.join(work, "floor.db"), isolation_level=None)
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"cache_size=-{args.cache_mib * 1024}",
            "wal_autocheckpoint=4000",
            "temp_store=MEMORY",
        ):
            db.execute(f"PRAGMA {pragma}")
        for statement in ddl:
            db.execute(statement)
        started = time.monotonic()
        report_every = max(args.rows // 10, args.batch)
        next_report = report_every
        for first in range(0, args.rows, args.batch):
            size = min(args.batch, args.rows - first)
            db.execute("BEGIN")
            for statement in batch_sql(first, size):
                db.execute(statement)
            db.execute("COMMIT")
            done = first + size
            if done >= next_report or done == args.rows:
                elapsed = time.monotonic() - started
                print(f"{done} rows in {elapsed:.1f} s: {done / elapsed:,.0f} rows/s", flush=True)
                next_report += report_every
        db.close()


if __name__ == "__main__":
    main()
