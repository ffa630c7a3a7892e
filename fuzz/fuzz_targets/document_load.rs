//! The document loader on arbitrary bytes, as the server loads received documents: the
//! chunk guard, automerge's loader, then the inspection reader and the rules. Errors are
//! fine; panics are not (automerge's own panics are caught by the server per message, so
//! this target catches them too and only fails on ours).
#![no_main]

use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::Automerge;
use libfuzzer_sys::fuzz_target;

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
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        let mut doc = Automerge::new();
        doc.load_incremental(data).ok().map(|_| doc)
    }));
    let Ok(Some(doc)) = loaded else { return };
    if let Ok(inspection) = shared::inspection::read(&doc) {
        let violations = shared::rules::evaluate(&inspection);
        let _ = shared::rules::total_yuan(&violations);
        let _ = inspection.submission_problems();
        let _ = inspection.conflicts();
    }
});
