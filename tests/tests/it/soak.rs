//! A short soak in CI: 20 tablets over 4 sites for 20 seconds against the real server
//! process, with disconnects and offline bursts (the documented run: `soak`, see
//! docs/RELIABILITY.md).

use std::path::Path;
use std::time::Duration;

use walkaround_tests::Db;
use walkaround_tests::soak::{SoakConfig, soak};

#[tokio::test]
async fn a_short_soak_loses_nothing_and_every_replica_converges() {
    let report = soak(
        Path::new(env!("CARGO_BIN_EXE_walkaround-process")),
        SoakConfig {
            tablets: 20,
            sites: 4,
            duration: Duration::from_secs(20),
            db: Db::Sqlite,
            // Small, so that inspections finish and new ones start within 20 seconds.
            changes_per_inspection: 8,
            settle: None,
        },
    )
    .await;
    println!("{report:#?}");
    assert!(report.edits > 100, "the tablets worked: {report:?}");
    assert!(report.disconnects > 0, "and went offline: {report:?}");
    // 20 own inspections and 4 shared walkarounds at the start: more means inspections
    // were finished and the tablets moved on to new ones.
    assert!(report.documents > 24, "inspections turned over: {report:?}");
    assert_eq!(report.lost, 0, "no edit lost");
    assert_eq!(
        report.diverged, 0,
        "every replica ends with the server's heads"
    );
}
