//! The acceptance of an incoming sync message, in five steps:
//! [`guard`] → [`fork`] → [`judge`] → [`persist`] → [`swap`].
//!
//! An incoming automerge sync message is checked before automerge parses it (guard), then
//! applied to a *fork* of the document. The changes it adds are judged one by one, in
//! dependency order, by the shared permission policy against the document at each change's
//! dependencies (judge). Only if every change is allowed is the result persisted (one
//! transaction: the new chunk, the document's metadata and the office's projection) and
//! then swapped in, and the document's other peers told; only then is the sender
//! answered. A refused message leaves the stored document and the one in memory
//! untouched. [`Hub::receive`] runs the steps with the document's lock held throughout, so
//! the document a change is judged against is the one it is stored onto.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use automerge::{Automerge, Change, ChangeHash};
use shared::chunk_guard;
use shared::inspection::{self, Inspection};
use shared::policy::{self, Denial, User};
use shared::protocol::DocumentId;
use shared::rules;
use tokio::sync::MutexGuard;

use super::{DocEntry, DocInner, Hub, has_orphans};
use crate::store::documents::{Author, Committed, DocWrite};
use crate::store::projection::{Projection, Written};
use crate::store::{Store, StoreError};
use crate::sync::relay::Waiting;

/// After this many incremental chunks a document is compacted into one snapshot.
pub const COMPACT_AFTER_CHUNKS: usize = 64;

/// Most bytes the compressed parts of one sync message may inflate to: a few times more
/// than the largest frame, which legitimate documents (compressing about 3:1) stay far
/// below and a deflate bomb (up to 1000:1) exceeds early.
pub const MAX_INFLATED_BYTES: usize = 4 * crate::sync::MAX_FRAME_BYTES;

/// Most bytes of change data one peer may leave waiting for missing dependencies.
pub const MAX_PENDING_BYTES: usize = 16 * 1024 * 1024;

/// One peer's side of the sync of one document: the automerge sync state, and the change
/// chunks that peer sent which still wait for a dependency.
///
/// Automerge's sync protocol recovers from a Bloom-filter false positive (the sender
/// wrongly believes we have a change, so it sends only that change's descendants) by the
/// receiver *queueing* the orphans and asking for their missing dependencies. The shared
/// copy of a document must never hold such a queue: a later load would apply the queued
/// changes without the policy judging them. So the orphans wait here, per peer, are fed
/// again with the peer's next message and are judged only once they apply. Dropping them
/// instead leaves the peer believing it sent them and the exchange never settles.
#[derive(Default)]
pub struct PeerSync {
    /// The automerge sync state.
    pub state: SyncState,
    pub(super) pending: Vec<Vec<u8>>,
}

impl PeerSync {
    /// A peer starting from a (possibly stored) sync state.
    pub fn new(state: SyncState) -> PeerSync {
        PeerSync {
            state,
            pending: Vec::new(),
        }
    }

    /// Drops the chunks waiting for dependencies: after a refusal is reported, the peer
    /// starts over from what the server holds.
    pub fn forget_pending(&mut self) {
        self.pending.clear();
    }

    /// Bytes of change data waiting for dependencies.
    pub fn pending_bytes(&self) -> usize {
        self.pending.iter().map(Vec::len).sum()
    }
}

/// Loads chunks into a document, turning automerge errors and panics into `Invalid`.
pub(super) fn load_chunks<'a>(
    doc: &mut Automerge,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), SyncError> {
    for chunk in chunks {
        match catch_unwind(AssertUnwindSafe(|| doc.load_incremental(chunk))) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(SyncError::Invalid(e.to_string())),
            Err(_) => {
                return Err(SyncError::Invalid(
                    "automerge could not load the changes".to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// Applies a peer's sync message to `doc`. automerge has been seen to panic on hostile
/// input; a panic here must cost this message, not the process or the other peers of the
/// document.
fn apply_sync_message(
    doc: &mut Automerge,
    state: &mut SyncState,
    message: SyncMessage,
) -> Result<(), SyncError> {
    match catch_unwind(AssertUnwindSafe(|| {
        doc.receive_sync_message(state, message)
    })) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(SyncError::Invalid(e.to_string())),
        Err(_) => Err(SyncError::Invalid(
            "automerge could not apply the message".to_string(),
        )),
    }
}

/// What became of an incoming sync message.
#[derive(Debug)]
pub enum Received {
    /// Applied (and, if it carried changes, persisted).
    Accepted {
        /// How many new changes it added.
        new_changes: usize,
    },
    /// Refused by the policy; nothing changed.
    Refused(Denial),
}

/// Why an incoming message could not be handled at all.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The message is not a valid automerge sync message, or automerge failed (or
    /// panicked) applying it.
    #[error("invalid sync data: {0}")]
    Invalid(String),
    /// The store failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Hub {
    /// Applies one sync message from `user` to the document, judging and persisting the
    /// changes it carries. `rights_version` is the version of the rights `user` holds
    /// (`users.rights_version`, [`crate::store::users::SyncRights`]): the changes are
    /// stored only if it is still the stored one, and otherwise the message fails with
    /// [`StoreError::RightsChanged`] and nothing changes, to be judged again with the
    /// rights read anew. `peer` is the sender's sync state and waiting chunks, updated only
    /// when the message is accepted (on a refusal the caller drops the waiting chunks with
    /// [`PeerSync::forget_pending`] once it reports it; a refusal owed to rights that have
    /// moved is judged again with them intact).
    pub async fn receive(
        &self,
        entry: &DocEntry,
        user: &User,
        rights_version: i64,
        peer: &mut PeerSync,
        data: &[u8],
    ) -> Result<Received, SyncError> {
        let message = guard(data)?;
        let told = Told::of(&message);
        let mut inner = entry.loaded().await?;
        let mut next_state = peer.state.clone();
        if message.changes.is_empty() && peer.pending.is_empty() {
            // Most messages carry no changes (the opening of a sync, acknowledgements):
            // automerge only updates the sync state for them and leaves the document as it
            // is, so no fork is needed to be able to refuse it.
            apply_sync_message(&mut inner.doc, &mut next_state, message)?;
            told.settle(&inner.doc, &mut next_state);
            peer.state = next_state;
            return Ok(Received::Accepted { new_changes: 0 });
        }
        let forked = fork(&inner.doc, peer, &mut next_state, message)?;
        if forked.added.is_empty() {
            told.settle(&inner.doc, &mut next_state);
            peer.state = next_state;
            peer.pending = forked.pending;
            return Ok(Received::Accepted { new_changes: 0 });
        }
        let new_changes = forked.added.len();
        let hashes: Vec<ChangeHash> = forked.added.iter().map(Change::hash).collect();
        let now = inner.current_view();
        let earlier = inner.earlier_view(now.as_ref(), &forked.added);
        let known = policy::Known { now, earlier };
        let (judged, pending) = match judge(user, &inner.doc, known, inner.history, forked)? {
            (Verdict::Allowed(judged), pending) => (*judged, pending),
            (Verdict::Refused(denial), _) => return Ok(Received::Refused(denial)),
        };
        // What is stored must be what was judged, change for change.
        let stored = policy::stored_changes(&judged.working, &inner.doc.get_heads(), &hashes);
        let chunk = match stored {
            Ok(changes) => changes
                .iter()
                .flat_map(Change::raw_bytes)
                .copied()
                .collect(),
            Err(denial) => return Ok(Received::Refused(denial)),
        };
        let write = Write::of(&entry.id, &inner, &judged, chunk);
        let author = Author {
            user_id: user.id.as_str(),
            rights_version,
        };
        let committed = persist(
            &self.store,
            &self.peer_id,
            &write,
            inner.written.as_ref(),
            author,
        )
        .await?;
        peer.state = next_state;
        peer.pending = pending;
        swap(entry, &self.waiting, inner, judged, write, committed);
        Ok(Received::Accepted { new_changes })
    }
}

/// Step 1, guard: decodes the sync message and checks every change chunk it carries
/// before automerge parses it. automerge would abort the process on some hostile chunks
/// (see `chunk_guard`), and the compressed parts of all the message's chunks together may
/// inflate to at most [`MAX_INFLATED_BYTES`].
fn guard(data: &[u8]) -> Result<SyncMessage, SyncError> {
    let message = SyncMessage::decode(data).map_err(|e| SyncError::Invalid(e.to_string()))?;
    let mut budget = MAX_INFLATED_BYTES;
    for chunk in message.changes.iter() {
        budget -= chunk_guard::check(chunk, budget)
            .map_err(|refused| SyncError::Invalid(refused.to_string()))?;
    }
    Ok(message)
}

/// What a peer's message says it has: its heads, what it last synced with us, and whether
/// it needs anything.
struct Told {
    heads: Vec<ChangeHash>,
    last_sync: Vec<Vec<ChangeHash>>,
    needs: bool,
}

impl Told {
    fn of(message: &SyncMessage) -> Told {
        Told {
            heads: sorted(message.heads.clone()),
            last_sync: message
                .have
                .iter()
                .map(|have| sorted(have.last_sync.clone()))
                .collect(),
            needs: !message.need.is_empty(),
        }
    }

    /// A peer back on a new connection opens with its heads and what it last synced with
    /// us. When both are exactly our heads and it needs nothing, it already knows
    /// everything an answer would say; answering would cost one message per document it
    /// holds in a reconnect storm. Recording our heads as told keeps automerge silent
    /// until they change.
    fn settle(&self, doc: &Automerge, state: &mut SyncState) {
        // `get_heads` is sorted; what the peer sent is sorted in `of` to compare.
        let ours = doc.get_heads();
        if !self.needs && self.heads == ours && self.last_sync == [ours.clone()] {
            state.last_sent_heads = ours;
            state.have_responded = true;
        }
    }
}

/// What a fork found in a message: the copy with the message applied, the changes it
/// adds, and the peer's chunks still waiting for dependencies.
struct Forked {
    /// The stored document with the message applied (and, if `pending` is not empty, a
    /// queue of changes still waiting for dependencies).
    doc: Automerge,
    /// The new changes, each after those of its dependencies among them.
    added: Vec<Change>,
    /// The chunks to keep for the peer's next message (none if nothing is orphaned).
    pending: Vec<Vec<u8>>,
}

/// Step 2, fork: applies the message, after the peer's chunks still waiting for their
/// dependencies, to a copy of the stored document, and lists the changes it adds in
/// dependency order. If some still lack a dependency, all the peer's unapplied chunks are
/// kept for its next message (within [`MAX_PENDING_BYTES`]); the shared copy never holds
/// them. `state` is the peer's next sync state, kept only if the message is accepted.
fn fork(
    stored: &Automerge,
    peer: &mut PeerSync,
    state: &mut SyncState,
    message: SyncMessage,
) -> Result<Forked, SyncError> {
    let incoming: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
    let had_pending = !peer.pending.is_empty();
    let mut fork = stored.clone();
    load_chunks(&mut fork, peer.pending.iter().map(Vec::as_slice))?;
    apply_sync_message(&mut fork, state, message)?;
    let (pending, added) = if has_orphans(&fork) {
        // A copy: the peer's own list changes only if the message is accepted.
        let mut pending = peer.pending.clone();
        pending.extend(incoming);
        if pending.iter().map(Vec::len).sum::<usize>() > MAX_PENDING_BYTES {
            peer.pending.clear();
            return Err(SyncError::Invalid(
                "too many changes whose dependencies never arrived".to_string(),
            ));
        }
        (pending, stored.get_changes_added(&fork))
    } else {
        // Without orphans, what the fork added is among the message's changes (and the
        // peer's earlier chunks, if any).
        let added = match had_pending {
            false => carried(stored, &fork, &incoming),
            true => None,
        };
        (
            Vec::new(),
            added.unwrap_or_else(|| stored.get_changes_added(&fork)),
        )
    };
    Ok(Forked {
        doc: fork,
        added: topological(added),
        pending,
    })
}

/// The changes a message's `chunks` carry that `stored` does not hold, each once, read
/// from the chunks themselves when every chunk is exactly one change that `fork` (the
/// stored document with the message applied) holds: what the fork added, without
/// comparing the two documents' histories (`get_changes_added`). `None` for anything else
/// (a whole document, several chunks in one, a change automerge did not load, such as one
/// whose checksum is wrong), which the caller finds by that comparison.
fn carried(stored: &Automerge, fork: &Automerge, chunks: &[Vec<u8>]) -> Option<Vec<Change>> {
    // Changes the stored copy holds back for missing dependencies would join the fork
    // without being among the message's.
    if has_orphans(stored) {
        return None;
    }
    let mut seen = HashSet::with_capacity(chunks.len());
    let mut added = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let change = Change::try_from(chunk.as_slice()).ok()?;
        let hash = change.hash();
        fork.get_change_meta_by_hash(&hash)?;
        if stored.get_change_meta_by_hash(&hash).is_none() && seen.insert(hash) {
            added.push(change);
        }
    }
    Some(added)
}

/// The policy's answer to a message's changes.
enum Verdict {
    /// Every change is allowed.
    Allowed(Box<Judged>),
    /// One is not; nothing of the message may be kept.
    Refused(Denial),
}

/// A message's changes, allowed.
struct Judged {
    /// The stored document plus exactly the judged changes, without the fork's queue of
    /// orphans: what gets stored and shared.
    working: Automerge,
    /// The inspection it now holds.
    view: Inspection,
}

/// Step 3, judge: each added change is judged by the shared policy against the document
/// at its dependencies, with the user's current rights. The changes are judged in the fork
/// they were applied to (`policy::judge_applied`: no second copy; each change read at its
/// hash, only the records it touched, with the document's kept inspection as the state
/// before the first). A fork that also holds a queue of orphans (which must not be
/// stored) is judged by replaying the changes onto a copy of the stored document
/// (`policy::judge_and_apply_from`), and so is a long message or one of several changes
/// on an unchecked history (`policy::judges_applied`); the replayed copy is then what is
/// stored. `known` holds the inspections already read for states of `stored` (the one it
/// holds now, and one at earlier heads: `policy::Known`); `history` says whether
/// `stored`'s history was checked (a concurrent change is then judged by historical reads,
/// not by replay). A panic while judging refuses the message rather than costing the
/// process. Returns the verdict and the peer's chunks still waiting.
fn judge(
    user: &User,
    stored: &Automerge,
    known: policy::Known,
    history: policy::History,
    forked: Forked,
) -> Result<(Verdict, Vec<Vec<u8>>), SyncError> {
    let Forked {
        doc: fork,
        added,
        pending,
    } = forked;
    let judged = if pending.is_empty() && policy::judges_applied(added.len(), history) {
        catch_unwind(AssertUnwindSafe(|| {
            policy::judge_applied(user, stored, &fork, &added, known, history)
        }))
        .map(|verdict| verdict.map(|view| (fork, view)))
    } else {
        let mut working = stored.clone();
        catch_unwind(AssertUnwindSafe(|| {
            policy::judge_and_apply_from(user, &mut working, &added, known.now, history)
        }))
        .map(|verdict| verdict.map(|view| (working, view)))
    };
    let (working, view) = match judged.unwrap_or_else(|_| {
        Err(Denial::InvalidChange(
            "the change could not be replayed".to_string(),
        ))
    }) {
        Err(denial) => return Ok((Verdict::Refused(denial), pending)),
        Ok(judged) => judged,
    };
    let view = match view {
        Some(view) => view,
        None => inspection::read(&working).map_err(|e| SyncError::Invalid(e.to_string()))?,
    };
    Ok((
        Verdict::Allowed(Box::new(Judged { working, view })),
        pending,
    ))
}

/// What one accepted message writes: the document's new chunk (and snapshot, when it is
/// compacted), its metadata and the office's projection.
struct Write {
    id: String,
    site: String,
    template: String,
    created_by: String,
    chunk: Vec<u8>,
    snapshot: Option<Vec<u8>>,
    /// The stored chunks this copy holds, which a snapshot replaces.
    replaces: Vec<i64>,
    projection: Projection,
}

impl Write {
    /// `chunk` is the message's changes as automerge stores them
    /// ([`policy::stored_changes`]).
    fn of(id: &DocumentId, inner: &DocInner, judged: &Judged, chunk: Vec<u8>) -> Write {
        let violations = rules::evaluate(&judged.view);
        let snapshot =
            (inner.seqs.len() + 1 >= COMPACT_AFTER_CHUNKS).then(|| judged.working.save());
        Write {
            id: id.to_string(),
            site: judged.view.site.to_string(),
            template: judged.view.template.id.as_str().to_string(),
            created_by: judged.view.created_by.as_str().to_string(),
            chunk,
            snapshot,
            replaces: inner.seqs.clone(),
            projection: Projection::new(&judged.view, &violations),
        }
    }
}

/// Step 4, persist: writes the new chunk, the document's metadata and its projection in
/// one transaction, compacting into a snapshot after [`COMPACT_AFTER_CHUNKS`] chunks.
/// `written` is this instance's last write of the document (its version and what its
/// projection's rows were):
/// if no one wrote the document since, only the projection's rows that differ are written.
/// The write commits only while `author` still has the rights the changes were judged
/// with ([`StoreError::RightsChanged`] otherwise).
/// Returns the new chunk's number and version. Until it returns nothing in memory has
/// changed, so a failed write leaves the document as it was and the sender unanswered.
async fn persist(
    store: &Store,
    origin: &str,
    write: &Write,
    written: Option<&(i64, Written)>,
    author: Author<'_>,
) -> Result<Committed, StoreError> {
    store
        .write_doc(&DocWrite {
            id: &write.id,
            kind: "inspection",
            site_id: Some(&write.site),
            template_id: Some(&write.template),
            created_by: Some(&write.created_by),
            chunk: &write.chunk,
            snapshot: write.snapshot.as_deref(),
            replaces: &write.replaces,
            origin,
            projection: Some(&write.projection),
            previous: written.map(|(version, projection)| (*version, projection)),
            author: Some(author),
        })
        .await
}

/// Step 5, swap: the committed document replaces the one in memory (compacted), with the
/// numbers of the chunks it now holds, the projection written, the inspection read and
/// what turns it back into the one before (for a change made concurrently with this
/// message); the lock is released and the document's peers are told. Peers told `doc-unavailable` before its creation get it now,
/// as the reference server does.
fn swap(
    entry: &DocEntry,
    waiting: &Waiting,
    mut inner: MutexGuard<'_, DocInner>,
    judged: Judged,
    write: Write,
    committed: Committed,
) {
    let Judged { working, view } = judged;
    inner.keep_view(working.get_heads(), view);
    inner.written = Some((committed.version, write.projection.written()));
    inner.doc = super::compact(working);
    let created = inner.site.is_none();
    inner.site = Some(write.site);
    if write.snapshot.is_some() {
        inner.seqs.clear();
    }
    inner.seqs.push(committed.seq);
    drop(inner);
    entry.announce();
    if created {
        waiting.wake(&entry.id);
    }
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort_unstable();
    heads
}

/// Orders changes so that each comes after those of its dependencies that are among them.
fn topological(changes: Vec<Change>) -> Vec<Change> {
    let mut pending: Vec<Change> = changes;
    let hashes: HashSet<ChangeHash> = pending.iter().map(Change::hash).collect();
    let mut done: HashSet<ChangeHash> = HashSet::new();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let (ready, rest): (Vec<Change>, Vec<Change>) = pending.into_iter().partition(|c| {
            c.deps()
                .iter()
                .all(|d| !hashes.contains(d) || done.contains(d))
        });
        if ready.is_empty() {
            // A cycle cannot occur in a hash graph; keep the rest as they are.
            ordered.extend(rest);
            break;
        }
        done.extend(ready.iter().map(Change::hash));
        ordered.extend(ready);
        pending = rest;
    }
    ordered
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    use super::carried;

    fn doc_with(values: &[i64]) -> Automerge {
        let mut doc = Automerge::new();
        for v in values {
            let mut tx = doc.transaction();
            tx.put(ROOT, "n", *v).expect("puts");
            tx.commit();
        }
        doc
    }

    #[test]
    fn a_message_of_changes_adds_those_the_document_lacks_each_once() {
        let mut ours = doc_with(&[1]);
        let mut theirs = ours.fork();
        let mut tx = theirs.transaction();
        tx.put(ROOT, "n", 2).expect("puts");
        tx.commit();
        let mut tx = theirs.transaction();
        tx.put(ROOT, "n", 3).expect("puts");
        tx.commit();
        let all: Vec<Vec<u8>> = theirs
            .get_changes(&[])
            .into_iter()
            .map(|mut c| c.bytes().to_vec())
            .collect();
        // The first change is the stored one; the last is sent twice.
        let mut chunks = all.clone();
        chunks.push(all[2].clone());
        let added = carried(&ours, &theirs, &chunks).expect("every chunk is a change");
        let expected: Vec<_> = ours
            .get_changes_added(&theirs)
            .iter()
            .map(automerge::Change::hash)
            .collect();
        let mut got: Vec<_> = added.iter().map(automerge::Change::hash).collect();
        got.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(got, expected);
        // A change the fork does not hold (automerge dropped it) is not taken as added.
        assert!(carried(&ours, &ours, &chunks).is_none());
        ours.merge(&mut theirs).expect("merges");
        assert!(carried(&ours, &ours, &chunks).expect("changes").is_empty());
    }

    #[test]
    fn a_message_carrying_a_whole_document_is_left_to_the_comparison() {
        let stored = Automerge::new();
        let saved = doc_with(&[1, 2]).save();
        assert!(carried(&stored, &stored, &[saved]).is_none());
        let mut two = doc_with(&[1]).get_changes(&[]).into_iter();
        let joined = [
            two.next().expect("a change").bytes().to_vec(),
            doc_with(&[5]).save(),
        ]
        .concat();
        assert!(carried(&stored, &stored, &[joined]).is_none());
    }
}
