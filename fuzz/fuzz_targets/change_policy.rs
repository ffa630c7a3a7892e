//! The policy check on arbitrary change bytes against a real inspection: whatever a peer
//! sends, `judge_change` allows or refuses. automerge itself panics on some malformed
//! changes (see `regressions/`); the server catches that per message, and so does this
//! target, so that it finds panics of ours.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use automerge::{ActorId, Automerge, Change};
use libfuzzer_sys::fuzz_target;
use shared::ids::{InspectionId, SiteId, UserId};
use shared::inspection::write::{self, NewInspection};
use shared::policy::{self, User};
use shared::role::Role;

fn inspection() -> &'static Automerge {
    static DOC: OnceLock<Automerge> = OnceLock::new();
    DOC.get_or_init(|| {
        let new = NewInspection {
            id: InspectionId::parse("3kXEfDqnYn5Ci6cY8UoBXEvnpeK9").expect("valid"),
            site: SiteId::parse("demo-site").expect("valid"),
            template: shared::builtin::find("workshop-walkaround").expect("built-in"),
            areas: Vec::new(),
            created_by: UserId::parse("wang").expect("valid"),
            created_at: chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("valid"),
        };
        write::create(&new, ActorId::from(b"fuzz".to_vec())).expect("creates")
    })
}

/// libfuzzer-sys aborts on any panic, even a caught one; automerge's own panics are
/// caught below as the server catches them, so the hook is made silent. A panic that
/// escapes (one of ours) still fails the run.
fn catch_automerge_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

fuzz_target!(|data: &[u8]| {
    catch_automerge_panics();
    // The guard the server applies to received bytes before automerge sees them.
    if shared::chunk_guard::check(data, 64 << 20).is_err() {
        return;
    }
    let parsed = std::panic::catch_unwind(|| Change::from_bytes(data.to_vec()));
    let Ok(Ok(change)) = parsed else { return };
    let user = User {
        id: UserId::parse("wang").expect("valid"),
        role: Role::WorkshopManager,
        sites: BTreeSet::from([SiteId::parse("demo-site").expect("valid")]),
    };
    let doc = inspection();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        policy::judge_change(&user, doc, &change)
    }));
});
