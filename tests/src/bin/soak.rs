//! The documented soak: 200 tablets over 20 sites for 30 minutes against the real server
//! process, with random disconnects and offline bursts; inspections end after
//! `--changes-per-inspection` changes (60) and the tablets start new ones.
//!
//! ```sh
//! cargo build --release -p walkaround-tests --bins
//! WALKAROUND_DOC_IDLE_SECS=30 ./target/release/soak --tablets 200 --sites 20 --minutes 30 --db sqlite
//! ```

use std::time::Duration;

use walkaround_tests::process::server_beside_me;
use walkaround_tests::soak::{SoakConfig, soak};
use walkaround_tests::{Db, arg};

#[tokio::main]
async fn main() {
    let config = SoakConfig {
        tablets: arg("--tablets", "200").parse().expect("--tablets N"),
        sites: arg("--sites", "20").parse().expect("--sites N"),
        duration: Duration::from_secs_f64(
            arg("--minutes", "30").parse::<f64>().expect("--minutes M") * 60.0,
        ),
        db: match arg("--db", "sqlite").as_str() {
            "postgres" => Db::Postgres,
            _ => Db::Sqlite,
        },
        changes_per_inspection: arg("--changes-per-inspection", "60")
            .parse()
            .expect("--changes-per-inspection N"),
        // The server process inherits WALKAROUND_DOC_IDLE_SECS; documents idle that long
        // leave memory at the next sweep (at most 15 s later).
        settle: Some(Duration::from_secs(
            std::env::var("WALKAROUND_DOC_IDLE_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(60)
                + 20,
        )),
    };
    // The server binary is built beside this one.
    let exe = server_beside_me();
    let report = soak(&exe, config).await;
    println!("{config:?}");
    println!("{report:#?}");
    let growth = |kib: u64| (kib as f64 / report.rss_warm_kib.max(1) as f64 - 1.0) * 100.0;
    let series: Vec<String> = report
        .rss_series_kib
        .iter()
        .map(|(secs, kib, docs)| format!("{}:{}/{docs}", secs / 60, kib / 1024))
        .collect();
    println!(
        "server RSS through the run (minute:MiB/documents in memory): {}",
        series.join(" ")
    );
    println!(
        "after everyone left and idle documents were evicted: RSS {} KiB ({:+.1} % of the level after warm-up; heap and stacks {} KiB), {} documents in memory",
        report.rss_idle_kib,
        growth(report.rss_idle_kib),
        report.rss_idle_anon_kib,
        report.documents_in_memory_idle
    );
    println!(
        "edits {}, syncs {}, p50 {:.1} ms, p99 {:.1} ms, disconnects {}, documents {}, diverged {} (after {} catch-up rounds), lost {}, server RSS {} KiB after warm-up ({} s), {} KiB when the load stops ({:+.1} %), {} KiB after the final catch-up ({:+.1} %)",
        report.edits,
        report.syncs,
        report.p50_ms,
        report.p99_ms,
        report.disconnects,
        report.documents,
        report.diverged,
        report.catch_up_rounds,
        report.lost,
        report.rss_warm_kib,
        report.warm_secs,
        report.rss_load_end_kib,
        growth(report.rss_load_end_kib),
        report.rss_end_kib,
        growth(report.rss_end_kib)
    );
    assert_eq!(report.lost, 0, "no edit lost");
    assert_eq!(
        report.diverged, 0,
        "every replica ends with the server's heads"
    );
    assert!(
        growth(report.rss_load_end_kib) <= 10.0,
        "server memory at the end within 10 % of its level after warm-up"
    );
}
