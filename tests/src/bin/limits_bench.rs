//! Physical limits beside the benchmark figures (docs/BENCHMARKS.md, "Physical limits"):
//!
//! 1. CPU per change: what automerge itself costs to apply one answer (the floor any
//!    automerge server pays), what judging it costs, the rest of the server's work in
//!    memory (rules, office projection, the bytes to store), and what the whole server
//!    process spends per change it stores durably and acknowledges.
//!    The same for a change made concurrently with another (judged at its dependencies,
//!    which are not the document's heads), and for whole histories arriving in one
//!    message each (a tablet's first sync of inspections made offline).
//! 2. Bytes on the wire, each way, against the bytes of the changes themselves.
//! 3. Round trips for a new device to fetch M documents, for several M: each round is one
//!    batch of messages out and every answer to it back.
//!
//! cargo build --release -p walkaround-tests --bins
//! ./target/release/limits-bench --changes 2000 --docs 10,100,1000
//! ./target/release/limits-bench --changes 2000 --in-memory   # part 1's in-memory figures only

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use automerge::{ActorId, Automerge, Change};
use server::store::projection::Projection;
use shared::ids::{InspectionId, SiteId, UserId};
use shared::inspection::{self, AnswerKey, AnswerValue, NewInspection, PhotoRef, write};
use shared::policy::{self, User};
use shared::role::Role;
use shared::rules;
use walkaround_tests::process::{ServerProcess, cpu_seconds, server_beside_me};
use walkaround_tests::tablet::{Tablet, random_doc_id};
use walkaround_tests::{ANSWER_KEYS, Db, PASSWORD, arg, demo_areas, spawn};

/// The `i`-th answer of a run: the item, and every fifth a failure with a note.
fn nth_answer(i: usize) -> (&'static str, AnswerValue, Option<&'static str>) {
    let key = ANSWER_KEYS[i % ANSWER_KEYS.len()];
    if i.is_multiple_of(5) {
        (key, AnswerValue::Fail, Some("limits"))
    } else {
        (key, AnswerValue::Pass, None)
    }
}

/// Wang, the demo site's workshop manager, who makes and answers the walkarounds.
fn wang() -> User {
    User {
        id: UserId::parse("wang").expect("valid"),
        role: Role::WorkshopManager,
        sites: BTreeSet::from([SiteId::parse("demo-site").expect("valid")]),
    }
}

/// A new walkaround by `wang` and `n` answers on top of it, as separate changes.
fn inspection_and_answers(n: usize) -> (Automerge, Vec<Change>) {
    let new = NewInspection {
        id: InspectionId::parse(random_doc_id().to_string()).expect("valid"),
        site: SiteId::parse("demo-site").expect("valid"),
        template: shared::builtin::find("workshop-walkaround").expect("built-in"),
        areas: demo_areas(),
        created_by: wang().id,
        created_at: chrono::Utc::now(),
    };
    let base = write::create(&new, ActorId::random()).expect("creates");
    let changes = answered(
        &base,
        (0..n).map(|i| {
            let (key, value, note) = nth_answer(i);
            (AnswerKey::parse(key).expect("key"), value, note)
        }),
    );
    (base, changes)
}

/// A new walkaround by `wang` and `n` pass/fail answers on top of it, each to another item
/// (as a manager walking the floor answers), as separate changes.
fn inspection_and_distinct_answers(n: usize) -> (Automerge, Vec<Change>) {
    let (base, _) = inspection_and_answers(0);
    let view = inspection::read(&base).expect("reads");
    let items: Vec<AnswerKey> = view
        .expected_keys()
        .into_iter()
        .filter(|key| {
            view.item_for(key)
                .is_ok_and(|item| item.kind == shared::template::ItemKind::PassFail)
        })
        .collect();
    assert!(items.len() >= n, "{} pass/fail items", items.len());
    let changes = answered(
        &base,
        items
            .into_iter()
            .take(n)
            .map(|key| (key, AnswerValue::Pass, None)),
    );
    (base, changes)
}

/// `answers` written by `wang` on top of `base`, one change each, with a photo each.
fn answered(
    base: &Automerge,
    answers: impl IntoIterator<Item = (AnswerKey, AnswerValue, Option<&'static str>)>,
) -> Vec<Change> {
    let by = wang().id;
    let mut author = base.fork();
    let photos = [PhotoRef::parse("ab".repeat(32)).expect("valid")];
    for (key, value, note) in answers {
        write::answer(
            &mut author,
            &by,
            chrono::Utc::now(),
            &key,
            &value,
            note,
            &photos,
        )
        .expect("answers");
    }
    author.get_changes(&base.get_heads())
}

fn per_change_us(started: Instant, n: usize) -> f64 {
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// The in-memory cost of one change, step by step, over `docs` walkarounds of `answers`
/// answers each, one change at a time as a tablet answering live sends them: µs per change
/// for automerge's apply, judging, and judging plus the rest of the server's work in memory.
fn cpu_steps(docs: usize, answers: usize) -> (f64, f64, f64) {
    let user = wang();
    let work: Vec<(Automerge, Vec<Change>)> =
        (0..docs).map(|_| inspection_and_answers(answers)).collect();
    let n = docs * answers;

    let started = Instant::now();
    for (base, changes) in &work {
        let mut doc = base.clone();
        for change in changes {
            doc.apply_changes([change.clone()]).expect("applies");
        }
    }
    let apply = per_change_us(started, n);

    // As the server judges: the history checked once when the document is loaded, the
    // inspection kept from one change to the next.
    let started = Instant::now();
    for (base, changes) in &work {
        let mut doc = base.clone();
        let history = policy::check_history(&doc);
        let mut view = None;
        for change in changes {
            view = policy::judge_and_apply_from(
                &user,
                &mut doc,
                std::slice::from_ref(change),
                view,
                history,
            )
            .expect("allowed");
        }
    }
    let judge = per_change_us(started, n);

    let started = Instant::now();
    for (base, changes) in &work {
        let mut doc = base.clone();
        let history = policy::check_history(&doc);
        let mut kept = None;
        for change in changes {
            let heads = doc.get_heads();
            let view = match policy::judge_and_apply_from(
                &user,
                &mut doc,
                std::slice::from_ref(change),
                kept,
                history,
            )
            .expect("allowed")
            {
                Some(view) => view,
                None => inspection::read(&doc).expect("reads"),
            };
            let violations = rules::evaluate(&view);
            let projection = Projection::new(&view, &violations);
            let chunk = doc.save_after(&heads);
            std::hint::black_box((projection, chunk));
            kept = Some(view);
        }
    }
    let pipeline = per_change_us(started, n);
    (apply, judge, pipeline)
}

/// Part 1: the in-memory cost of one change at two document sizes.
fn cpu_floor(n: usize) {
    println!("## CPU per change, in memory (one change at a time)");
    println!(
        "| document size | automerge `apply_changes` (the floor) µs | `policy::judge_and_apply_from` (apply + read + judge) µs (× floor) | + rules, office projection, bytes to store µs (× floor) |"
    );
    println!("|---|---|---|---|");
    for (docs, answers) in [(100, 20), (1, n)] {
        let (apply, judge, pipeline) = cpu_steps(docs, answers);
        println!(
            "| {docs} walkaround(s) × {answers} answers | {apply:.1} | {judge:.1} ({:.1}) | {pipeline:.1} ({:.1}) |",
            judge / apply,
            pipeline / apply
        );
    }
}

/// A walkaround with `answers` answers, and one more answer from each of two devices made
/// at the same time on top of it: the first is on the document's heads, the second is
/// concurrent with it (its dependencies are not the heads once the first is in).
fn concurrent_pair(answers: usize) -> (Automerge, Change, Change) {
    let (base, changes) = inspection_and_answers(answers);
    let mut doc = base.clone();
    doc.apply_changes(changes).expect("applies");
    let wang = UserId::parse("wang").expect("valid");
    let photos = [PhotoRef::parse("cd".repeat(32)).expect("valid")];
    let mut pair = Vec::new();
    for (device, key) in [(1u8, ANSWER_KEYS[0]), (2u8, ANSWER_KEYS[1])] {
        let mut tablet = doc
            .fork()
            .with_actor(ActorId::from([device; 16].as_slice()));
        write::answer(
            &mut tablet,
            &wang,
            chrono::Utc::now(),
            &AnswerKey::parse(key).expect("key"),
            &AnswerValue::Fail,
            Some("concurrent"),
            &photos,
        )
        .expect("answers");
        pair.push(tablet.get_last_local_change().expect("a change"));
    }
    let second = pair.pop().expect("two");
    let first = pair.pop().expect("two");
    doc.apply_changes([first.clone()]).expect("applies");
    (doc, first, second)
}

/// The cost of judging a concurrent change (issue 21), µs per change over `docs`
/// walkarounds of `answers` answers: automerge's apply of it (the floor); the judge as the
/// server runs it on a checked history with the inspection it keeps
/// (`judge_and_apply_from`: historical reads at the change's dependencies, only the records
/// touched read again); the server's path for a sync message carrying it (a copy of the
/// document, automerge's apply of the change, `judge_applied`); and the replay it
/// replaced (`judge_change`, which rebuilds the document up to the change's dependencies,
/// then the apply), still the judge of a history that fails the check; and the server's
/// path when it also holds the inspection as the document was at the change's
/// dependencies (`policy::Known::earlier`: what it kept from before the first change).
fn concurrent_steps(docs: usize, answers: usize) -> [f64; 5] {
    let user = wang();
    let work: Vec<(Automerge, Change, Change)> =
        (0..docs).map(|_| concurrent_pair(answers)).collect();
    // What the server holds for each document: checked once on load, the inspection kept.
    let views: Vec<inspection::Inspection> = work
        .iter()
        .map(|(doc, _, _)| {
            assert_eq!(policy::check_history(doc), policy::History::Checked);
            inspection::read(doc).expect("reads")
        })
        .collect();
    // And the inspection before the first change, read on the document as it was then.
    let earlier: Vec<(Vec<automerge::ChangeHash>, inspection::Inspection)> = work
        .iter()
        .map(|(doc, _, second)| {
            let mut deps = second.deps().to_vec();
            deps.sort();
            let then = doc.fork_at(&deps).expect("forks");
            (deps, inspection::read(&then).expect("reads"))
        })
        .collect();
    // Each step starts from its own copies, made before the clock starts.
    let copies = || -> Vec<Automerge> { work.iter().map(|(doc, _, _)| doc.clone()).collect() };
    let mut timings = [0.0; 5];

    let mut targets = copies();
    let started = Instant::now();
    for (doc, (_, _, second)) in targets.iter_mut().zip(&work) {
        doc.apply_changes([second.clone()]).expect("applies");
    }
    timings[0] = per_change_us(started, docs);

    let mut targets = copies();
    let kept = views.clone();
    let started = Instant::now();
    for ((doc, (_, _, second)), view) in targets.iter_mut().zip(&work).zip(kept) {
        let now = policy::judge_and_apply_from(
            &user,
            doc,
            std::slice::from_ref(second),
            Some(view),
            policy::History::Checked,
        )
        .expect("allowed");
        std::hint::black_box(now);
    }
    timings[1] = per_change_us(started, docs);

    // The server's path, given what it holds for each document.
    let server_path = |known: Vec<policy::Known>| {
        let started = Instant::now();
        for ((stored, _, second), known) in work.iter().zip(known) {
            let mut fork = stored.clone();
            fork.apply_changes([second.clone()]).expect("applies");
            let now = policy::judge_applied(
                &user,
                stored,
                &fork,
                std::slice::from_ref(second),
                known,
                policy::History::Checked,
            )
            .expect("allowed");
            std::hint::black_box(now);
        }
        per_change_us(started, docs)
    };
    timings[2] = server_path(
        views
            .iter()
            .cloned()
            .map(|view| Some(view).into())
            .collect(),
    );

    let mut targets = copies();
    let started = Instant::now();
    for (doc, (_, _, second)) in targets.iter_mut().zip(&work) {
        policy::judge_change(&user, doc, second).expect("allowed");
        doc.apply_changes([second.clone()]).expect("applies");
    }
    timings[3] = per_change_us(started, docs);

    timings[4] = server_path(
        views
            .iter()
            .cloned()
            .zip(earlier)
            .map(|(view, earlier)| policy::Known {
                now: Some(view),
                earlier: Some(earlier),
            })
            .collect(),
    );
    timings
}

/// Part 1b: judging a change made concurrently with another (two tablets on one inspection).
fn concurrent_floor(n: usize) {
    println!("\n## CPU per concurrent change, in memory");
    println!(
        "| document size | automerge `apply_changes` (the floor) µs | `judge_and_apply_from` µs (× floor) | server path: copy + apply + `judge_applied` µs (× floor) | the replay, `judge_change` + apply µs (× floor) | server path, the inspection at the dependencies known µs (× floor) |"
    );
    println!("|---|---|---|---|---|---|");
    for (docs, answers) in [(100, 20), (10, n)] {
        let [apply, judge, server, replay, known] = concurrent_steps(docs, answers);
        println!(
            "| {docs} walkaround(s) × {answers} answers | {apply:.1} | {judge:.1} ({:.1}) | {server:.1} ({:.1}) | {replay:.1} ({:.1}) | {known:.1} ({:.1}) |",
            judge / apply,
            server / apply,
            replay / apply,
            known / apply
        );
    }
}

/// The in-memory cost per change of whole histories each arriving in one message (a
/// tablet's first sync of inspections made offline: the creation and `answers` answers in
/// one chain), over `docs` walkarounds: µs per change for automerge's apply of the message
/// to an empty document, and for judging the message in the copy holding it
/// (`judge_applied`, as the server judges a new document's first message).
fn history_steps(docs: usize, answers: usize, distinct: bool) -> (f64, f64) {
    let user = wang();
    let work: Vec<Vec<Change>> = (0..docs)
        .map(|_| {
            let (base, answered) = if distinct {
                inspection_and_distinct_answers(answers)
            } else {
                inspection_and_answers(answers)
            };
            let mut changes = base.get_changes(&[]);
            changes.extend(answered);
            changes
        })
        .collect();
    let n = docs * (answers + 1);

    let started = Instant::now();
    let applied: Vec<Automerge> = work
        .iter()
        .map(|changes| {
            let mut doc = Automerge::new();
            doc.apply_changes(changes.iter().cloned()).expect("applies");
            doc
        })
        .collect();
    let apply = per_change_us(started, n);

    let empty = Automerge::new();
    let started = Instant::now();
    for (changes, doc) in work.iter().zip(&applied) {
        let view = policy::judge_applied(
            &user,
            &empty,
            doc,
            changes,
            policy::Known::default(),
            policy::History::Checked,
        )
        .expect("allowed");
        std::hint::black_box(view);
    }
    let judge = per_change_us(started, n);
    (apply, judge)
}

/// Part 1c: judging a whole history that arrives in one message (the cold upload).
fn history_floor() {
    println!("\n## CPU per change of a history arriving in one message, in memory");
    println!(
        "| histories | automerge `apply_changes` of the message (the floor) µs | `judge_applied` of the message µs (× floor) |"
    );
    println!("|---|---|---|");
    for (docs, answers, distinct) in [(500, 20, false), (100, 60, false), (500, 16, true)] {
        let (apply, judge) = history_steps(docs, answers, distinct);
        let items = if distinct {
            "each to another item"
        } else {
            "over eight items"
        };
        println!(
            "| {docs} walkarounds: the creation and {answers} answers {items} | {apply:.1} | {judge:.1} ({:.1}) |",
            judge / apply
        );
    }
}

/// Part 2: the whole server process per change, and the bytes on the wire.
async fn server_per_change(server: &ServerProcess, n: usize) -> f64 {
    let address = server.address.to_string();
    let pid = server.pid().expect("running");
    let mut wang = Tablet::login_at(&address, "wang", PASSWORD).await;
    let id = wang.create("workshop-walkaround", "demo-site", demo_areas());
    assert!(wang.sync_until_acked(Duration::from_secs(30)).await);
    wang.sync().await;
    let before_heads = wang.heads(&id);
    let (sent0, received0) = wang.wire_bytes;
    let cpu0 = cpu_seconds(pid);
    let started = Instant::now();
    for i in 0..n {
        let (key, value, note) = nth_answer(i);
        wang.answer(&id, key, value, note);
        assert!(wang.sync_until_acked(Duration::from_secs(30)).await);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let (sent, received) = (wang.wire_bytes.0 - sent0, wang.wire_bytes.1 - received0);
    let (doc, _) = wang.docs.get(&id).expect("holds it");
    let payload: usize = doc
        .get_changes(&before_heads)
        .iter()
        .map(|c| c.raw_bytes().len())
        .sum();
    let per_change = cpu * 1e6 / n as f64;
    println!(
        "\n## The server process per change ({n} answers sent one at a time, each stored durably and acknowledged before the next)"
    );
    println!(
        "server CPU {cpu:.2} s in {seconds:.1} s: {per_change:.0} µs per change; {:.1} ms per change end to end (one tablet, SQLite commit with fsync)",
        seconds * 1e3 / n as f64
    );
    println!(
        "bytes: changes {payload} ({} per change); up {sent} ({:.2} × the changes), down {received} ({:.2} × the changes)",
        payload / n,
        sent as f64 / payload as f64,
        received as f64 / payload as f64
    );
    per_change
}

/// Part 3: a new device fetching M documents, counted in rounds.
async fn new_device_rounds(server: &ServerProcess, sizes: &[usize]) {
    let address = server.address.to_string();
    println!("\n## A new device fetching M documents");
    println!(
        "| M | round trips | messages out / in | bytes in | bytes of the changes | bytes in per document |"
    );
    println!("|---|---|---|---|---|---|");
    for &m in sizes {
        let mut author = Tablet::login_at(&address, "wang", PASSWORD).await;
        let mut ids = Vec::new();
        for i in 0..m {
            let id = author.create("workshop-walkaround", "demo-site", demo_areas());
            author.answer(
                &id,
                ANSWER_KEYS[i % ANSWER_KEYS.len()],
                AnswerValue::Pass,
                None,
            );
            ids.push(id);
        }
        assert!(author.sync_until_acked(Duration::from_secs(600)).await);
        let payload: usize = ids
            .iter()
            .map(|id| {
                let (doc, _) = author.docs.get(id).expect("holds it");
                doc.get_changes(&[])
                    .iter()
                    .map(|c| c.raw_bytes().len())
                    .sum::<usize>()
            })
            .sum();
        author.disconnect().await;

        let mut device = Tablet::login_at(&address, "li", PASSWORD).await;
        for id in &ids {
            device.want(*id);
        }
        let received0 = device.wire_bytes.1;
        let (frames_out0, frames_in0) = device.wire_frames;
        let mut rounds = 0usize;
        let complete = |device: &Tablet| {
            ids.iter().all(|id| {
                let (doc, _) = device.docs.get(id).expect("wanted");
                let mut ours = doc.get_heads();
                ours.sort();
                let mut theirs = author.heads(id);
                theirs.sort();
                ours == theirs
            })
        };
        while !complete(&device) {
            assert!(rounds < 20, "a new device did not converge in 20 rounds");
            rounds += 1;
            // One round: everything the device has to say goes out at once, then every
            // answer comes back before the device says anything more.
            device.send_changes().await;
            while let Some(message) = device.next_message(Duration::from_millis(500)).await {
                device.absorb_message(message);
            }
        }
        let received = device.wire_bytes.1 - received0;
        println!(
            "| {m} | {rounds} | {} / {} | {received} | {payload} | {} |",
            device.wire_frames.0 - frames_out0,
            device.wire_frames.1 - frames_in0,
            received / m
        );
        device.disconnect().await;
    }
}

#[tokio::main]
async fn main() {
    let changes: usize = arg("--changes", "2000").parse().expect("--changes N");
    let sizes: Vec<usize> = arg("--docs", "10,100,1000")
        .split(',')
        .map(|m| m.trim().parse().expect("--docs M,M,…"))
        .collect();
    cpu_floor(changes);
    concurrent_floor(changes);
    history_floor();
    if std::env::args().any(|a| a == "--in-memory") {
        // Only the figures that need no server.
        return;
    }

    let mut seeded = spawn(Db::Sqlite).await;
    seeded.shutdown().await;
    let exe = server_beside_me();
    let server = ServerProcess::start(&exe, seeded.data_dir.clone(), None, false).await;
    server_per_change(&server, changes.min(500)).await;
    new_device_rounds(&server, &sizes).await;
}
