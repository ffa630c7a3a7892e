//! The document cache: every document this instance knows, in memory or evicted, one
//! async lock each, with the peers subscribed to it.
//!
//! A document is loaded from the store on its first use and kept up to date with what
//! other instances store ([`Hub::refresh`]). Memory is bounded by *eviction*: a document
//! nobody has touched for a while is dropped from memory (its entry, which connections
//! subscribe to, stays while anyone holds it) and loaded again from the store on its next
//! use. [`Hub::evict`] does it; the server runs it periodically with the limits in
//! [`crate::config::DocumentMemory`].
//!
//! What comes in is accepted (or refused) in [`accept`]: guard → fork → judge → persist →
//! swap, [`Hub::receive`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use automerge::sync::{Message as SyncMessage, SyncDoc};
use automerge::{Automerge, ChangeHash, ReadDoc};
use shared::inspection::{Inspection, Undo};
use shared::policy::{self, History};
use shared::protocol::DocumentId;

use super::relay::{Changed, Ephemeral, Inbox, Listeners, Waiting, Watchers};
use crate::store::{Store, StoreError};

pub mod accept;

use accept::load_chunks;
pub use accept::{
    COMPACT_AFTER_CHUNKS, MAX_INFLATED_BYTES, MAX_PENDING_BYTES, PeerSync, Received, SyncError,
};

/// A document known to this instance: loaded in memory, or evicted and loaded again on
/// its next use.
pub struct DocEntry {
    /// Its id.
    pub id: DocumentId,
    store: Store,
    inner: tokio::sync::Mutex<DocInner>,
    /// The connections syncing it, told when it changes.
    watchers: Watchers,
    /// The connections syncing it, for presence.
    listeners: Listeners,
    /// When it was last used, in milliseconds since [`epoch`].
    last_used: AtomicU64,
}

struct DocInner {
    /// The document; an empty placeholder while not `resident`.
    doc: Automerge,
    /// Whether `doc` and `seqs` hold the document (false after an eviction, or for an entry
    /// created from the store's metadata and not used yet).
    resident: bool,
    /// The site, once the document exists.
    site: Option<String>,
    /// The numbers of the stored chunks this copy holds: exactly what a compaction by this
    /// instance may replace.
    seqs: Vec<i64>,
    /// The inspection as `doc` held it at these heads, kept from the last accepted message
    /// so that judging the next one on top of it reads the document once, not twice. Used
    /// only while the heads are still the document's.
    view: Option<(Vec<automerge::ChangeHash>, Inspection)>,
    /// What turns `view` back into the inspection the document held before its last
    /// accepted message, at these heads (sorted): a change made concurrently with that
    /// message depends on exactly them (two tablets answering the same inspection), and
    /// is judged against it (`policy::Known::earlier`). One record or so, where a second
    /// inspection would double what each changed document keeps (boxed: a pointer in
    /// every entry, the rest only where there is one).
    undo: Option<Box<(Vec<ChangeHash>, Undo)>>,
    /// Whether every change of `doc` keeps automerge's rules for changes, checked when it
    /// is loaded and kept so by the judge (which refuses changes that break them): a
    /// concurrent change to a checked document is judged by historical reads.
    history: History,
    /// This instance's last write of the document: the version it took and the office's
    /// rows it wrote. The next write changes only the rows that differ, if the stored
    /// document is still at that version.
    written: Option<(i64, crate::store::projection::Written)>,
}

impl DocInner {
    /// A copy of the kept inspection, if it is still the document's. Judging consumes its
    /// copy; the kept one stays for the next message if this one is refused or its write
    /// fails, so a refused message costs the next one no whole read of the inspection.
    fn current_view(&self) -> Option<Inspection> {
        match &self.view {
            Some((heads, view)) if *heads == self.doc.get_heads() => Some(view.clone()),
            _ => None,
        }
    }

    /// Keeps `view`, the inspection of the document about to replace `doc` (whose heads
    /// are `heads`), and the undo from it to the inspection kept until now, if that one
    /// was `doc`'s: the state a change made concurrently with this message was made on.
    fn keep_view(&mut self, heads: Vec<ChangeHash>, view: Inspection) {
        let before = self.doc.get_heads();
        self.undo = match &self.view {
            Some((kept, earlier)) if *kept == before => {
                view.undo_to(earlier).map(|undo| Box::new((before, undo)))
            }
            _ => None,
        };
        self.view = Some((heads, view));
    }

    /// The inspection the document held before its last accepted message, with those
    /// heads, when one of the `added` changes depends on exactly them and `now` is the
    /// kept inspection (what [`DocInner::current_view`] gave): undone from it.
    fn earlier_view(
        &self,
        now: Option<&Inspection>,
        added: &[automerge::Change],
    ) -> Option<(Vec<ChangeHash>, Inspection)> {
        let (heads, undo) = self.undo.as_deref()?;
        let now = now?;
        added
            .iter()
            .any(|change| policy::same_heads(heads, change.deps()))
            .then(|| (heads.clone(), now.undone(undo)))
    }
}

/// The document in the memory it needs. automerge's load and apply leave room to grow in
/// their columns and indexes, and its `clone` copies exactly what is there: a document of
/// an inspection's creation and 20 answers takes about 28 KB after `load_incremental` and
/// 17 KB after a clone, which costs about 5 µs (a loaded document would otherwise stay at
/// its larger size for as long as it stays in memory; docs/BENCHMARKS.md, session 13).
/// Even a message of one change leaves room (about 2 KB at 20 answers, 10 MiB over 2,000
/// documents edited at once), so every swap compacts, for 2–3 % of the CPU of concurrent
/// edits (the clone and the drop of the larger copy).
fn compact(doc: Automerge) -> Automerge {
    doc.clone()
}

/// Whether a document holds changes waiting for missing dependencies.
fn has_orphans(doc: &Automerge) -> bool {
    !ReadDoc::get_missing_deps(doc, &[]).is_empty()
}

/// All documents in memory.
pub struct Hub {
    store: Store,
    /// This instance's peer id, the origin of its change notifications.
    peer_id: String,
    docs: Mutex<HashMap<DocumentId, Arc<DocEntry>>>,
    /// Connections told `doc-unavailable` for a document that may still come to exist.
    pub waiting: Waiting,
}

/// The instant `last_used` counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_millis() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Loads a stored document and the numbers of its chunks.
async fn load_stored(store: &Store, id: &DocumentId) -> Result<(Automerge, Vec<i64>), StoreError> {
    let key = id.to_string();
    let chunks = store.doc_chunks_numbered(&key).await?;
    let mut doc = Automerge::new();
    for (_, chunk) in &chunks {
        doc.load_incremental(chunk)
            .map_err(|e| StoreError::Corrupt(format!("document {key}: {e}")))?;
    }
    Ok((doc, chunks.iter().map(|(seq, _)| *seq).collect()))
}

impl DocEntry {
    fn new(id: DocumentId, store: Store, site: Option<String>, resident: bool) -> DocEntry {
        DocEntry {
            id,
            store,
            inner: tokio::sync::Mutex::new(DocInner {
                doc: Automerge::new(),
                resident,
                site,
                seqs: Vec::new(),
                view: None,
                undo: None,
                history: History::Checked,
                written: None,
            }),
            watchers: Watchers::default(),
            listeners: Listeners::default(),
            last_used: AtomicU64::new(now_millis()),
        }
    }

    /// The locked entry with its document in memory, loading it from the store if it was
    /// evicted.
    async fn loaded(&self) -> Result<tokio::sync::MutexGuard<'_, DocInner>, StoreError> {
        let mut inner = self.inner.lock().await;
        self.last_used.store(now_millis(), Ordering::Relaxed);
        if !inner.resident {
            let (doc, seqs) = load_stored(&self.store, &self.id).await?;
            inner.history = policy::check_history(&doc);
            if inner.history == History::Unchecked {
                tracing::warn!(doc = %self.id, "a stored change breaks automerge's rules for changes: concurrent changes are judged by replay");
            }
            inner.doc = compact(doc);
            inner.seqs = seqs;
            inner.resident = true;
        }
        Ok(inner)
    }

    /// Drops the document from memory if nobody is using it; true if it did.
    fn try_evict(&self) -> bool {
        let Ok(mut inner) = self.inner.try_lock() else {
            return false;
        };
        if !inner.resident {
            return false;
        }
        inner.doc = Automerge::new();
        inner.seqs = Vec::new();
        inner.view = None;
        inner.undo = None;
        inner.written = None;
        inner.resident = false;
        true
    }

    /// Whether the document is in memory now (false while someone holds it locked).
    fn is_resident(&self) -> bool {
        self.inner.try_lock().map(|i| i.resident).unwrap_or(true)
    }

    fn idle_for(&self, now: u64) -> Duration {
        Duration::from_millis(now.saturating_sub(self.last_used.load(Ordering::Relaxed)))
    }

    /// The document's site, if it exists yet.
    pub async fn site(&self) -> Option<String> {
        self.inner.lock().await.site.clone()
    }

    /// `changed` is marked with this document whenever a change is accepted (or arrives
    /// from another instance), until [`DocEntry::unwatch`] or its connection ends.
    pub fn watch(&self, changed: &Arc<Changed>) {
        self.watchers.add(changed);
    }

    /// `changed` is no longer told of this document's changes.
    pub fn unwatch(&self, changed: &Arc<Changed>) {
        self.watchers.remove(changed);
    }

    /// Tells the connections syncing the document that it changed.
    fn announce(&self) {
        self.watchers.mark(self.id);
    }

    /// `inbox` hears the presence messages other connections send for this document.
    pub fn listen(&self, inbox: &Arc<Inbox>) {
        self.listeners.add(inbox);
    }

    /// Hands a presence message to every other connection syncing this document (each
    /// applies its own user's site rules before passing it on). Nothing is stored.
    pub fn relay(&self, from: &Arc<Inbox>, message: Ephemeral) {
        self.listeners.relay(from, message);
    }

    /// The next sync message for `peer`, if there is anything to say.
    pub async fn generate(&self, peer: &mut PeerSync) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.loaded().await?;
        if peer.pending.is_empty() {
            return Ok(inner
                .doc
                .generate_sync_message(&mut peer.state)
                .map(SyncMessage::encode));
        }
        // The peer's orphans are part of what we tell it: with them in the queue automerge
        // asks for exactly their missing dependencies.
        let mut view = inner.doc.clone();
        if load_chunks(&mut view, peer.pending.iter().map(Vec::as_slice)).is_err() {
            peer.pending.clear();
            return Ok(inner
                .doc
                .generate_sync_message(&mut peer.state)
                .map(SyncMessage::encode));
        }
        Ok(view
            .generate_sync_message(&mut peer.state)
            .map(SyncMessage::encode))
    }

    /// The current heads.
    pub async fn heads(&self) -> Result<Vec<ChangeHash>, StoreError> {
        Ok(self.loaded().await?.doc.get_heads())
    }

    /// The saved document bytes.
    pub async fn save(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.loaded().await?.doc.save())
    }
}

impl Hub {
    /// An empty hub over `store`, for the instance `peer_id`.
    pub fn new(store: Store, peer_id: String) -> Hub {
        Hub {
            store,
            peer_id,
            docs: Mutex::new(HashMap::new()),
            waiting: Waiting::default(),
        }
    }

    /// This instance's peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// Brings a document in memory up to date with the store after another instance
    /// changed it, and tells this instance's peers. Documents not in memory are skipped:
    /// they load fresh when needed. Connections waiting for the document (it may have
    /// just been created there) look again.
    pub async fn refresh(&self, id: &DocumentId) -> Result<(), StoreError> {
        let refreshed = self.refresh_resident(id).await;
        self.waiting.wake(id);
        refreshed
    }

    async fn refresh_resident(&self, id: &DocumentId) -> Result<(), StoreError> {
        let Some(entry) = self.cached(id) else {
            return Ok(());
        };
        let mut inner = entry.inner.lock().await;
        if !inner.resident {
            // Nothing to update: it loads fresh, with the new chunk, on its next use. Its
            // peers still need telling.
            drop(inner);
            entry.announce();
            return Ok(());
        }
        let chunks = self.store.doc_chunks_numbered(&id.to_string()).await?;
        let before = inner.doc.get_heads();
        let fresh: Vec<(i64, Vec<u8>)> = chunks
            .into_iter()
            .filter(|(seq, _)| !inner.seqs.contains(seq))
            .collect();
        if !fresh.is_empty() {
            let mut next = inner.doc.clone();
            for (_, data) in &fresh {
                next.load_incremental(data)
                    .map_err(|e| StoreError::Corrupt(format!("document {id}: {e}")))?;
            }
            if has_orphans(&next) {
                // A chunk whose dependencies are not committed yet: leave all of them for
                // the next notification rather than hold unapplied changes in memory.
                tracing::debug!(doc = %id, "refresh deferred: a chunk's dependencies are not stored yet");
            } else {
                if inner.history == History::Checked
                    && policy::check_added(&next, &inner.doc.get_changes_added(&next))
                        == History::Unchecked
                {
                    inner.history = History::Unchecked;
                }
                inner.doc = compact(next);
                inner.seqs.extend(fresh.iter().map(|(seq, _)| *seq));
            }
        }
        if inner.site.is_none() {
            inner.site = self
                .store
                .doc_meta(&id.to_string())
                .await?
                .and_then(|m| m.site_id);
        }
        let changed = inner.doc.get_heads() != before;
        drop(inner);
        if changed {
            entry.announce();
        }
        Ok(())
    }

    /// Refreshes every document in memory, and has every waiting connection look again
    /// (after missed notifications).
    pub async fn refresh_all(&self) -> Result<(), StoreError> {
        self.waiting.wake_all();
        let ids: Vec<DocumentId> = self
            .docs
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.refresh(&id).await?;
        }
        Ok(())
    }

    fn cached(&self, id: &DocumentId) -> Option<Arc<DocEntry>> {
        self.docs.lock().ok().and_then(|m| m.get(id).cloned())
    }

    /// The document, loading it from the store if needed; `None` if the server has none.
    pub async fn get(&self, id: &DocumentId) -> Result<Option<Arc<DocEntry>>, StoreError> {
        if let Some(entry) = self.cached(id) {
            return Ok(Some(entry));
        }
        let Some(meta) = self.store.doc_meta(&id.to_string()).await? else {
            return Ok(None);
        };
        // The document itself loads on first use.
        let entry = Arc::new(DocEntry::new(*id, self.store.clone(), meta.site_id, false));
        let mut docs = self
            .docs
            .lock()
            .map_err(|_| StoreError::Corrupt("document map poisoned".into()))?;
        Ok(Some(docs.entry(*id).or_insert(entry).clone()))
    }

    /// An entry for a document the server does not have yet, to receive its creation.
    pub fn get_or_new(&self, id: &DocumentId) -> Result<Arc<DocEntry>, StoreError> {
        let mut docs = self
            .docs
            .lock()
            .map_err(|_| StoreError::Corrupt("document map poisoned".into()))?;
        Ok(docs
            .entry(*id)
            .or_insert_with(|| Arc::new(DocEntry::new(*id, self.store.clone(), None, true)))
            .clone())
    }

    /// Forgets an entry that never came to exist (its creation was refused).
    pub async fn forget_if_empty(&self, entry: &DocEntry) {
        let empty = entry.inner.lock().await.site.is_none();
        if let (true, Ok(mut docs)) = (empty, self.docs.lock()) {
            docs.remove(&entry.id);
        }
    }

    /// How many documents this instance knows (in memory or evicted but still subscribed).
    pub fn len(&self) -> usize {
        self.docs.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no document is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many documents are loaded in memory.
    pub fn resident(&self) -> usize {
        self.entries().iter().filter(|e| e.is_resident()).count()
    }

    fn entries(&self) -> Vec<Arc<DocEntry>> {
        self.docs
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops from memory every document unused for `idle`, then the least recently used
    /// beyond `max_resident`, and forgets entries no connection holds. A document in use
    /// at that moment (its lock held) is skipped. Returns how many documents it dropped.
    pub fn evict(&self, idle: Duration, max_resident: usize) -> usize {
        let now = now_millis();
        let mut evicted = 0;
        let mut resident = Vec::new();
        for entry in self.entries() {
            if !entry.is_resident() {
                continue;
            }
            if entry.idle_for(now) >= idle {
                evicted += usize::from(entry.try_evict());
            } else {
                resident.push(entry);
            }
        }
        if resident.len() > max_resident {
            resident.sort_by_key(|e| std::cmp::Reverse(e.idle_for(now)));
            let excess = resident.len() - max_resident;
            for entry in resident.iter().take(excess) {
                evicted += usize::from(entry.try_evict());
            }
        }
        drop(resident);
        // An entry only the map holds has no connection subscribed to it: once its
        // document is out of memory, or idle, the entry goes too. `get` clones entries
        // under the same lock, so none can be handed out meanwhile.
        if let Ok(mut docs) = self.docs.lock() {
            docs.retain(|_, e| {
                Arc::strong_count(e) > 1 || (e.is_resident() && e.idle_for(now) < idle)
            });
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use shared::ids::{InspectionId, SiteId, UserId};
    use shared::inspection::{self, AnswerKey, AnswerValue, write};

    use super::*;

    fn inner(doc: Automerge) -> DocInner {
        DocInner {
            view: Some((doc.get_heads(), inspection::read(&doc).expect("reads"))),
            doc,
            resident: true,
            site: Some(crate::demo::DEMO_SITE.to_string()),
            seqs: Vec::new(),
            undo: None,
            history: History::Checked,
            written: None,
        }
    }

    /// `doc` with its `nth` item answered by `by` (an actor of its own).
    fn answered(doc: &Automerge, by: &str, nth: usize) -> Automerge {
        let mut doc = doc
            .fork()
            .with_actor(automerge::ActorId::from(by.as_bytes()));
        let view = inspection::read(&doc).expect("reads");
        let key: AnswerKey = view.expected_keys()[nth].clone();
        let value = match view.item_for(&key).expect("an item").kind {
            shared::template::ItemKind::Count { .. } => AnswerValue::Count(1),
            shared::template::ItemKind::Number { .. } => AnswerValue::Number(1.0),
            shared::template::ItemKind::Text => AnswerValue::Text("ok".to_string()),
            _ => AnswerValue::Pass,
        };
        write::answer(
            &mut doc,
            &UserId::parse(by).expect("valid"),
            chrono::Utc::now(),
            &key,
            &value,
            None,
            &[],
        )
        .expect("answers");
        doc
    }

    /// What the swap keeps is what a change made concurrently with the message judges
    /// against: the inspection as the document was just before it, at those heads.
    #[test]
    fn the_view_before_the_last_message_is_given_for_a_change_made_on_its_heads() {
        let new = write::NewInspection {
            id: InspectionId::parse("7QxA3KyjRuMc4UWtWJUzH9").expect("valid"),
            site: SiteId::parse(crate::demo::DEMO_SITE).expect("valid"),
            template: shared::builtin::find(shared::builtin::WALKAROUND).expect("built-in"),
            areas: crate::demo::demo_site().expect("demo site").areas,
            created_by: UserId::parse("mgr").expect("valid"),
            created_at: chrono::Utc::now(),
        };
        let created = write::create(&new, automerge::ActorId::from(&b"mgr"[..])).expect("creates");
        let before = created.get_heads();
        let mut inner = inner(created.clone());
        // A message answering the first item is accepted and swapped in.
        let first = answered(&created, "mgr", 0);
        inner.keep_view(first.get_heads(), inspection::read(&first).expect("reads"));
        inner.doc = first.clone();
        // A second tablet answered the second item on the heads before it.
        let second = answered(&created, "lead", 1);
        let concurrent = second.get_last_local_change().expect("a change");
        let now = inner.current_view();
        assert_eq!(now, Some(inspection::read(&first).expect("reads")));
        let earlier = inner.earlier_view(now.as_ref(), std::slice::from_ref(&concurrent));
        assert_eq!(
            earlier,
            Some((before, inspection::read(&created).expect("reads")))
        );
        // A change on top of the message has no use for it.
        let on_top = answered(&first, "mgr", 1)
            .get_last_local_change()
            .expect("a change");
        assert!(inner.earlier_view(now.as_ref(), &[on_top]).is_none());
        // Nor is it given once the kept inspection is not the document's (another
        // instance's changes loaded, say).
        inner.doc = second;
        assert!(inner.current_view().is_none());
        assert!(inner.earlier_view(None, &[concurrent]).is_none());
    }
}
