//! What one connection hands to others: documents that came to exist while a peer waited
//! for them, and presence (`ephemeral` messages).
//!
//! Both follow the automerge-repo reference server (`DocSynchronizer` in
//! `@automerge/automerge-repo` 2.5.6; see `docs/PROTOCOL.md`):
//! - a peer told `doc-unavailable` stays interested: once the document exists it is synced
//!   to that peer like to any other ([`Waiting`]);
//! - an `ephemeral` message is passed on, unchanged but for its target, to the other peers
//!   syncing the document ([`Listeners`]).
//!
//! Each connection has one [`Inbox`]; what others hand it waits there until its own task
//! takes it, so the site rules are applied by the receiving connection with its own user's
//! rights at the moment of delivery.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

use shared::protocol::DocumentId;
use tokio::sync::Notify;

/// Most presence messages waiting for one connection; beyond it the oldest are dropped
/// (presence is repeated by its senders, a stale one is worth nothing).
pub const MAX_QUEUED_EPHEMERAL: usize = 256;

/// Largest `data` of an `ephemeral` message relayed, in bytes. automerge-repo's presence
/// sends a few hundred bytes; a larger one is answered with an `error` and not relayed.
pub const MAX_EPHEMERAL_BYTES: usize = 64 * 1024;

/// Most documents one connection waits for at once; asking for more forgets the oldest.
pub const MAX_WAITING_PER_CONNECTION: usize = 256;

/// One `ephemeral` message as received from its sender, shared by all its receivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    /// The peer id of the sender (the joined peer of the connection it came on).
    pub sender_id: String,
    /// The document.
    pub document_id: DocumentId,
    /// The sender's session id.
    pub session_id: String,
    /// The sender's counter in that session.
    pub count: u64,
    /// The opaque data.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct InboxState {
    appeared: BTreeSet<DocumentId>,
    ephemeral: VecDeque<Arc<Ephemeral>>,
}

/// What other connections handed to one connection, and a wake-up for its task.
#[derive(Default)]
pub struct Inbox {
    state: Mutex<InboxState>,
    notify: Notify,
}

impl Inbox {
    /// A document this connection waited for may exist now.
    pub fn appeared(&self, id: DocumentId) {
        if let Ok(mut state) = self.state.lock() {
            state.appeared.insert(id);
        }
        self.notify.notify_one();
    }

    /// A presence message for a document this connection syncs.
    pub fn ephemeral(&self, message: Arc<Ephemeral>) {
        if let Ok(mut state) = self.state.lock() {
            if state.ephemeral.len() >= MAX_QUEUED_EPHEMERAL {
                state.ephemeral.pop_front();
            }
            state.ephemeral.push_back(message);
        }
        self.notify.notify_one();
    }

    /// Waits until something arrives (returns at once if something arrived since the last
    /// [`Inbox::take`]).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Everything that arrived: documents that may exist now, and presence messages in
    /// the order they came.
    pub fn take(&self) -> (Vec<DocumentId>, Vec<Arc<Ephemeral>>) {
        self.state
            .lock()
            .map(|mut state| {
                let state = std::mem::take(&mut *state);
                (
                    state.appeared.into_iter().collect(),
                    state.ephemeral.into_iter().collect(),
                )
            })
            .unwrap_or_default()
    }
}

/// Connections held weakly, each once: one that ended is dropped the next time the list
/// is touched. The one list behind [`Watchers`], [`Waiting`] and [`Listeners`].
struct Members<T>(Vec<Weak<T>>);

impl<T> Default for Members<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T> Members<T> {
    /// Adds `item` unless it is a member already.
    fn add(&mut self, item: &Arc<T>) {
        self.0.retain(|w| w.strong_count() > 0);
        if !self
            .0
            .iter()
            .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(item)))
        {
            self.0.push(Arc::downgrade(item));
        }
    }

    /// Removes `item` if it is a member.
    fn remove(&mut self, item: &Arc<T>) {
        self.0
            .retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(item)));
    }

    /// The members whose connections are still open.
    fn live(&mut self) -> Vec<Arc<T>> {
        self.0.retain(|w| w.strong_count() > 0);
        self.0.iter().filter_map(Weak::upgrade).collect()
    }

    /// Whether no member is left (ended ones count until touched).
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many members the list holds, ended ones not yet dropped included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Documents changed since a connection last looked, each once however often it changed:
/// a peer that is slow to read costs one entry per document, not one per change.
#[derive(Default)]
pub struct Changed {
    ids: Mutex<BTreeSet<DocumentId>>,
    notify: Notify,
}

impl Changed {
    /// `id` changed.
    pub fn mark(&self, id: DocumentId) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.insert(id);
        }
        self.notify.notify_one();
    }

    /// Forgets that `id` changed: the connection is about to send what it lacks of it.
    pub fn unmark(&self, id: &DocumentId) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.remove(id);
        }
    }

    /// Waits until a document is marked (returns at once if one was marked since the last
    /// wake-up; [`Changed::take`] may then find nothing, when the mark was unmarked).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// The documents changed since the last call, each once.
    pub fn take(&self) -> Vec<DocumentId> {
        self.ids
            .lock()
            .map(|mut ids| std::mem::take(&mut *ids).into_iter().collect())
            .unwrap_or_default()
    }
}

/// The connections syncing one document, told when it changes. Held weakly: a connection
/// that ended is dropped from the list the next time it is touched.
#[derive(Default)]
pub struct Watchers {
    changed: Mutex<Members<Changed>>,
}

impl Watchers {
    /// `changed` hears of the document's changes from now on.
    pub fn add(&self, changed: &Arc<Changed>) {
        if let Ok(mut list) = self.changed.lock() {
            list.add(changed);
        }
    }

    /// `changed` no longer hears of them.
    pub fn remove(&self, changed: &Arc<Changed>) {
        if let Ok(mut list) = self.changed.lock() {
            list.remove(changed);
        }
    }

    /// Tells every watcher that document `id` changed.
    pub fn mark(&self, id: DocumentId) {
        let watchers = match self.changed.lock() {
            Ok(mut list) => list.live(),
            Err(_) => return,
        };
        for changed in watchers {
            changed.mark(id);
        }
    }
}

/// The connections of this instance waiting for documents that do not exist yet.
#[derive(Default)]
pub struct Waiting {
    by_doc: Mutex<HashMap<DocumentId, Members<Inbox>>>,
}

impl Waiting {
    /// `inbox` hears when `id` may have come to exist.
    pub fn add(&self, id: DocumentId, inbox: &Arc<Inbox>) {
        if let Ok(mut by_doc) = self.by_doc.lock() {
            by_doc.entry(id).or_default().add(inbox);
        }
    }

    /// `inbox` no longer waits for `id`.
    pub fn remove(&self, id: &DocumentId, inbox: &Arc<Inbox>) {
        if let Ok(mut by_doc) = self.by_doc.lock()
            && let Some(list) = by_doc.get_mut(id)
        {
            list.remove(inbox);
            if list.is_empty() {
                by_doc.remove(id);
            }
        }
    }

    /// `id` may exist now: every connection waiting for it hears so, and waits no more
    /// here (one that still finds nothing registers again).
    pub fn wake(&self, id: &DocumentId) {
        let waiters = self
            .by_doc
            .lock()
            .ok()
            .and_then(|mut by_doc| by_doc.remove(id))
            .unwrap_or_default()
            .live();
        for inbox in waiters {
            inbox.appeared(*id);
        }
    }

    /// Every waiting connection looks again (after notifications may have been missed).
    pub fn wake_all(&self) {
        let all = self
            .by_doc
            .lock()
            .map(|mut by_doc| std::mem::take(&mut *by_doc))
            .unwrap_or_default();
        for (id, mut waiters) in all {
            for inbox in waiters.live() {
                inbox.appeared(id);
            }
        }
    }

    /// How many documents are waited for.
    pub fn len(&self) -> usize {
        self.by_doc.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no document is waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The connections syncing one document, for presence.
#[derive(Default)]
pub struct Listeners {
    inboxes: Mutex<Members<Inbox>>,
}

impl Listeners {
    /// `inbox` hears the document's presence messages from now on (until its connection
    /// ends; a connection that stopped syncing the document drops them on delivery).
    pub fn add(&self, inbox: &Arc<Inbox>) {
        if let Ok(mut inboxes) = self.inboxes.lock() {
            inboxes.add(inbox);
        }
    }

    /// Hands `message` to every listener but `from`.
    pub fn relay(&self, from: &Arc<Inbox>, message: Ephemeral) {
        let message = Arc::new(message);
        let receivers = match self.inboxes.lock() {
            Ok(mut inboxes) => inboxes.live(),
            Err(_) => return,
        };
        for inbox in receivers.iter().filter(|i| !Arc::ptr_eq(i, from)) {
            inbox.ephemeral(message.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: u8) -> DocumentId {
        DocumentId::from_bytes([n; 16])
    }

    fn message(count: u64) -> Ephemeral {
        Ephemeral {
            sender_id: "a".into(),
            document_id: doc(1),
            session_id: "s".into(),
            count,
            data: vec![0xa0],
        }
    }

    #[test]
    fn a_relayed_message_reaches_every_listener_but_its_sender() {
        let listeners = Listeners::default();
        let (a, b, c) = (
            Arc::new(Inbox::default()),
            Arc::new(Inbox::default()),
            Arc::new(Inbox::default()),
        );
        for inbox in [&a, &b, &c, &b] {
            listeners.add(inbox);
        }
        listeners.relay(&a, message(1));
        assert!(a.take().1.is_empty());
        assert_eq!(b.take().1.len(), 1, "once, though added twice");
        assert_eq!(c.take().1[0].count, 1);
        drop(c);
        listeners.relay(&a, message(2));
        assert_eq!(listeners.inboxes.lock().map(|l| l.len()).ok(), Some(2));
    }

    #[test]
    fn a_slow_connection_keeps_only_the_newest_presence() {
        let inbox = Inbox::default();
        for count in 0..(MAX_QUEUED_EPHEMERAL as u64 + 10) {
            inbox.ephemeral(Arc::new(message(count)));
        }
        let (_, queued) = inbox.take();
        assert_eq!(queued.len(), MAX_QUEUED_EPHEMERAL);
        assert_eq!(queued[0].count, 10);
    }

    #[test]
    fn a_change_reaches_each_watcher_once_until_it_stops_watching() {
        let watchers = Watchers::default();
        let (a, b, c) = (
            Arc::new(Changed::default()),
            Arc::new(Changed::default()),
            Arc::new(Changed::default()),
        );
        for changed in [&a, &b, &c, &a] {
            watchers.add(changed);
        }
        watchers.mark(doc(1));
        watchers.mark(doc(1));
        watchers.mark(doc(2));
        assert_eq!(
            a.take(),
            vec![doc(1), doc(2)],
            "each document once, watched twice"
        );
        assert_eq!(b.take(), vec![doc(1), doc(2)]);
        watchers.remove(&b);
        drop(c);
        watchers.mark(doc(3));
        assert_eq!(a.take(), vec![doc(3)]);
        assert!(b.take().is_empty(), "stopped watching");
        assert_eq!(watchers.changed.lock().map(|l| l.len()).ok(), Some(1));
    }

    #[test]
    fn a_change_unmarked_before_a_push_is_not_pushed_again_but_a_later_one_is() {
        let changed = Changed::default();
        changed.mark(doc(1));
        changed.mark(doc(2));
        changed.unmark(&doc(1));
        assert_eq!(changed.take(), vec![doc(2)]);
        changed.unmark(&doc(3));
        changed.mark(doc(1));
        assert_eq!(changed.take(), vec![doc(1)], "marked again after the push");
    }

    #[test]
    fn waiters_are_woken_once_and_forgotten() {
        let waiting = Waiting::default();
        let (a, b) = (Arc::new(Inbox::default()), Arc::new(Inbox::default()));
        waiting.add(doc(1), &a);
        waiting.add(doc(1), &b);
        waiting.add(doc(2), &a);
        waiting.remove(&doc(1), &b);
        waiting.wake(&doc(1));
        assert_eq!(a.take().0, vec![doc(1)]);
        assert!(b.take().0.is_empty());
        assert_eq!(waiting.len(), 1);
        waiting.wake(&doc(1));
        assert!(a.take().0.is_empty(), "woken once");
        drop(a);
        waiting.wake_all();
        assert!(waiting.is_empty());
    }
}
