//! Backfill throughput: simulated history generated and written to
//! raw_events + labels through the real runtime, on SQLite and PostgreSQL.
//! Each sample starts a fresh store; only the backfill itself is timed.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sea_orm::{ConnectionTrait, Database};
use vigil::config::Config;
use vigil_actors::Runtime;

const DAYS: u32 = 2;

fn config(database_url: &str) -> vigil_actors::RuntimeConfig {
    let mut config = Config::default();
    config.database.url = Some(database_url.to_owned());
    config.backfill.days = DAYS;
    config.producer.rate = Some(0.0);
    vigil::app::runtime_config(&config)
}

/// Runs one backfill into a fresh store; returns (transactions, time).
async fn backfill_once(database_url: &str) -> (u64, Duration) {
    let mut runtime = Runtime::start(config(database_url))
        .await
        .expect("runtime starts");
    let report = runtime
        .backfill_finished()
        .await
        .expect("empty store backfills")
        .expect("backfill succeeds");
    (report.transactions, report.elapsed)
}

fn sqlite(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let probe_dir = tempfile::tempdir().unwrap();
    let (events, _) = system.block_on(backfill_once(&vigil_actors::store::sqlite_url(
        probe_dir.path(),
    )));
    let mut group = c.benchmark_group("backfill");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(events));
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                total += system
                    .block_on(backfill_once(&vigil_actors::store::sqlite_url(dir.path())))
                    .1;
            }
            total
        })
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let Ok(admin_url) = std::env::var("POSTGRES_TEST_URL") else {
        eprintln!("POSTGRES_TEST_URL not set: skipping the PostgreSQL backfill benchmark");
        return;
    };
    let system = actix_rt::System::new();
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b)
        .to_owned();
    let fresh_database = || {
        system.block_on(async {
            let admin = Database::connect(&admin_url)
                .await
                .expect("postgres reachable");
            let name = format!("vigil_bench_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            (name.clone(), format!("{base}/{name}"))
        })
    };
    let drop_database = |name: String| {
        system.block_on(async {
            let admin = Database::connect(&admin_url).await.unwrap();
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        })
    };
    let (name, url) = fresh_database();
    let (events, _) = system.block_on(backfill_once(&url));
    drop_database(name);
    let mut group = c.benchmark_group("backfill");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(events));
    group.bench_function("postgres", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (name, url) = fresh_database();
                total += system.block_on(backfill_once(&url)).1;
                drop_database(name);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
