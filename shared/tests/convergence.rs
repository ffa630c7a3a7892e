//! Property: replicas that answer concurrently and exchange changes through the automerge
//! sync protocol over a lossy network (messages reordered between pairs, duplicated,
//! dropped with a reconnect) end with identical heads, identical state and identical
//! violations; no answer is lost unless a writer who had seen it replaced it; and the
//! policy accepts every honest change.
//!
//! `PROPTEST_CASES` sets the number of cases (1,000 by default, as CI runs it).

mod support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::sync::{Message, State, SyncDoc};
use automerge::{Automerge, ObjType, ROOT, ReadDoc, Value};
use proptest::prelude::*;
use shared::builtin::WALKAROUND;
use shared::inspection::{AnswerValue, keys, write};
use shared::policy::{User, judge_change};
use shared::role::Role;
use shared::rules::evaluate;
use support::*;

const KEYS: [&str; 5] = [
    "c1-visitors",
    "c7-oil-filters",
    "c8-booth-floor",
    "c6-bay-clear@bay-1",
    "c2-interior-set@bay-2",
];
const BAYS: [&str; 3] = ["bay-1", "bay-2", "bay-3"];

#[derive(Debug, Clone)]
enum Op {
    /// Replica answers a key with one of a few values.
    Answer {
        replica: usize,
        key: usize,
        value: u8,
    },
    /// Replica marks a bay.
    Occupy {
        replica: usize,
        bay: usize,
        occupied: bool,
    },
    /// `from` generates a sync message for `to` and queues it.
    Send { from: usize, to: usize },
    /// The oldest queued message from `from` to `to` arrives, once or twice.
    Deliver { from: usize, to: usize, twice: bool },
    /// The oldest queued message is lost; the connection drops and both sides reconnect.
    Drop { from: usize, to: usize },
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    let r = 0..n;
    prop_oneof![
        3 => (r.clone(), 0..KEYS.len(), 0..6u8).prop_map(|(replica, key, value)| Op::Answer { replica, key, value }),
        1 => (r.clone(), 0..BAYS.len(), any::<bool>()).prop_map(|(replica, bay, occupied)| Op::Occupy { replica, bay, occupied }),
        4 => (r.clone(), r.clone()).prop_map(|(from, to)| Op::Send { from, to }),
        4 => (r.clone(), r.clone(), prop::bool::weighted(0.2)).prop_map(|(from, to, twice)| Op::Deliver { from, to, twice }),
        1 => (r.clone(), r).prop_map(|(from, to)| Op::Drop { from, to }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (3..=5usize).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 10..60)))
}

fn value_for(key: &str, v: u8) -> AnswerValue {
    if key.starts_with("c7-oil-filters") {
        AnswerValue::Count(u32::from(v))
    } else {
        match v % 3 {
            0 => AnswerValue::Pass,
            1 => AnswerValue::Fail,
            _ => AnswerValue::NotApplicable,
        }
    }
}

/// The answer-record object ids currently under `key`.
fn records(doc: &Automerge, key: &str) -> BTreeSet<String> {
    let Ok(Some((Value::Object(ObjType::Map), answers))) = doc.get(ROOT, keys::ANSWERS) else {
        return BTreeSet::new();
    };
    doc.get_all(&answers, key)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, id)| id.to_string())
        .collect()
}

struct Net {
    docs: Vec<Automerge>,
    users: Vec<User>,
    /// `states[a][b]`: a's sync state for its connection to b.
    states: Vec<Vec<State>>,
    /// `queues[a][b]`: encoded messages from a to b in flight.
    queues: Vec<Vec<VecDeque<Vec<u8>>>>,
    /// Every record written: (key, record id) → the records its writer saw and replaced.
    written: BTreeMap<(String, String), BTreeSet<String>>,
    minute: i64,
}

impl Net {
    fn new(n: usize) -> Self {
        // The walkaround is run by workshop managers (its `run_by`): several managers'
        // tablets answer it; other roles read and review, they do not answer.
        let users: Vec<User> = (0..n)
            .map(|i| user(&format!("u{i}"), Role::WorkshopManager))
            .collect();
        let base = create(WALKAROUND, &users[0]);
        let docs = (0..n).map(|i| replica(&base, i as u8 + 1)).collect();
        Net {
            docs,
            users,
            states: (0..n)
                .map(|_| (0..n).map(|_| State::new()).collect())
                .collect(),
            queues: (0..n)
                .map(|_| (0..n).map(|_| VecDeque::new()).collect())
                .collect(),
            written: BTreeMap::new(),
            minute: 1,
        }
    }

    /// Applies a local edit and checks the policy accepts it as its author made it.
    fn edit(
        &mut self,
        replica: usize,
        f: impl FnOnce(&mut Automerge, &User, i64),
    ) -> Result<(), TestCaseError> {
        self.minute += 1;
        let before = self.docs[replica].clone();
        f(&mut self.docs[replica], &self.users[replica], self.minute);
        let change = self.docs[replica]
            .get_last_local_change()
            .expect("a change was made");
        let verdict = judge_change(&self.users[replica], &before, &change);
        prop_assert!(
            verdict.is_ok(),
            "an honest change was refused: {:?}",
            verdict
        );
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Answer {
                replica,
                key,
                value,
            } => {
                let k = KEYS[key];
                let seen = records(&self.docs[replica], k);
                let submitted = read(&self.docs[replica]).submitted.is_some();
                prop_assume!(!submitted);
                self.edit(replica, |doc, u, m| {
                    answer(doc, u, m, k, value_for(k, value))
                })?;
                let now = records(&self.docs[replica], k);
                let new: Vec<_> = now.difference(&seen).cloned().collect();
                prop_assert_eq!(new.len(), 1);
                self.written.insert((k.to_string(), new[0].clone()), seen);
            }
            Op::Occupy {
                replica,
                bay,
                occupied,
            } => {
                self.edit(replica, |doc, u, m| {
                    write::set_occupied(
                        doc,
                        &u.id,
                        t(m),
                        &BAYS[bay].parse().expect("id"),
                        occupied,
                    )
                    .expect("marks");
                })?;
            }
            Op::Send { from, to } if from != to => {
                if let Some(msg) = self.docs[from].generate_sync_message(&mut self.states[from][to])
                {
                    self.queues[from][to].push_back(msg.encode());
                }
            }
            Op::Deliver { from, to, twice } if from != to => {
                if let Some(bytes) = self.queues[from][to].pop_front() {
                    for _ in 0..(1 + usize::from(twice)) {
                        let msg = Message::decode(&bytes).expect("decodes");
                        self.docs[to]
                            .receive_sync_message(&mut self.states[to][from], msg)
                            .expect("receives");
                    }
                }
            }
            Op::Drop { from, to } if from != to && self.queues[from][to].pop_front().is_some() => {
                self.reconnect(from, to);
            }
            _ => {}
        }
        Ok(())
    }

    fn reconnect(&mut self, a: usize, b: usize) {
        self.states[a][b] = State::new();
        self.states[b][a] = State::new();
        self.queues[a][b].clear();
        self.queues[b][a].clear();
    }

    /// Reconnects everyone and syncs every pair until nobody has anything to say.
    fn settle(&mut self) {
        let n = self.docs.len();
        for a in 0..n {
            for b in 0..n {
                self.reconnect(a, b);
            }
        }
        for _round in 0..100 {
            let mut quiet = true;
            for a in 0..n {
                for b in 0..n {
                    if a == b {
                        continue;
                    }
                    if let Some(msg) = self.docs[a].generate_sync_message(&mut self.states[a][b]) {
                        quiet = false;
                        let msg = Message::decode(&msg.encode()).expect("decodes");
                        self.docs[b]
                            .receive_sync_message(&mut self.states[b][a], msg)
                            .expect("receives");
                    }
                }
            }
            if quiet {
                return;
            }
        }
        panic!("sync did not settle in 100 rounds");
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn replicas_converge_without_losing_answers((n, ops) in scenario()) {
        let mut net = Net::new(n);
        for op in &ops {
            net.apply(op)?;
        }
        net.settle();

        let heads = net.docs[0].get_heads();
        let state = read(&net.docs[0]);
        let violations = evaluate(&state);
        for doc in &net.docs[1..] {
            prop_assert_eq!(doc.get_heads(), heads.clone());
            prop_assert_eq!(read(doc), state.clone());
            prop_assert_eq!(evaluate(&read(doc)), violations.clone());
        }

        // No answer vanished unless someone who had seen it wrote over it.
        let replaced: BTreeSet<&String> = net.written.values().flatten().collect();
        for (key, id) in net.written.keys() {
            let alive = records(&net.docs[0], key).contains(id);
            prop_assert!(alive || replaced.contains(id), "answer {} under {} was lost", id, key);
        }
        // Every surviving failing answer that counts shows up as (part of) a violation: an
        // occupied-bay item's answers count only while their bay is occupied.
        for (key, answers) in &state.answers {
            let item = state.item_for(key).expect("valid key");
            let counts = item.repeat != shared::template::Repeat::PerOccupiedBay
                || key.area.as_ref().is_some_and(|bay| state.is_occupied(bay));
            if counts && answers.iter().any(|a| a.value.occurrences(&item.kind) > 0) {
                prop_assert!(violations.iter().any(|v| &v.key == key), "fail under {} not reported", key);
            }
        }
    }
}
