//! A connection's side of [`crate::sync::relay`]: waiting for documents it was told are
//! unavailable, and presence (`ephemeral`) to and from other connections.
//!
//! As the automerge-repo reference server does (docs/PROTOCOL.md, "Waiting" and
//! "Presence"): a peer that asked for a document the server did not have gets it as soon as
//! it exists, and an `ephemeral` message is passed on to the other peers syncing the
//! document with its sender, session and count unchanged and the receiver as target. The
//! site rules hold for both, checked by the receiving connection with its user's rights
//! when it delivers: a document the user may not see stays `doc-unavailable` and its
//! presence never reaches them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use shared::protocol::DocumentId;

use super::Connection;
use crate::sync::hub::Hub;
use crate::sync::relay::{Ephemeral, Inbox, MAX_EPHEMERAL_BYTES, MAX_WAITING_PER_CONNECTION};

/// Most presence sessions remembered per connection for dropping repeats; a stock client
/// uses one per app start.
const MAX_SESSIONS: usize = 16;

/// What one connection keeps for relaying.
pub(super) struct Relayed {
    hub: Arc<Hub>,
    /// Where other connections hand it documents and presence.
    pub(super) inbox: Arc<Inbox>,
    /// Documents it was told are unavailable and still waits for, oldest first.
    waiting: VecDeque<DocumentId>,
    /// The last `count` relayed per presence session of its peer: the reference drops a
    /// message whose count does not grow.
    sessions: HashMap<String, u64>,
}

impl Relayed {
    pub(super) fn new(hub: Arc<Hub>) -> Relayed {
        Relayed {
            hub,
            inbox: Arc::default(),
            waiting: VecDeque::new(),
            sessions: HashMap::new(),
        }
    }

    fn stop_waiting(&mut self, id: &DocumentId) {
        self.waiting.retain(|w| w != id);
        self.hub.waiting.remove(id, &self.inbox);
    }
}

impl Drop for Relayed {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.waiting) {
            self.hub.waiting.remove(&id, &self.inbox);
        }
    }
}

/// Whether a document can be given to the peer now.
enum Lookup {
    /// It exists and the user may see it: the peer syncs it from now on.
    Attached,
    /// It does not exist yet (or its creation is not accepted yet).
    Missing,
    /// Another site's, or the store failed: nothing to give.
    Nothing,
}

impl Connection {
    /// Whether the connection's user may see documents of `site`.
    fn may_see(&self, site: &str) -> bool {
        self.auth.user.sites.iter().any(|s| s.as_str() == site)
    }

    /// After `doc-unavailable` for a document that does not exist: the peer gets it once
    /// it does (and the user may see it). Registers first and looks once more, so a
    /// creation committed meanwhile is not missed.
    pub(super) async fn wait_for(&mut self, id: DocumentId) {
        if !self.relayed.waiting.contains(&id) {
            if self.relayed.waiting.len() >= MAX_WAITING_PER_CONNECTION
                && let Some(oldest) = self.relayed.waiting.front().copied()
            {
                self.relayed.stop_waiting(&oldest);
            }
            self.relayed.waiting.push_back(id);
        }
        self.context.hub.waiting.add(id, &self.relayed.inbox);
        match self.lookup(id).await {
            Lookup::Missing => {}
            Lookup::Attached | Lookup::Nothing => self.relayed.stop_waiting(&id),
        }
    }

    async fn lookup(&mut self, id: DocumentId) -> Lookup {
        let entry = match self.context.hub.get(&id).await {
            Ok(Some(entry)) => entry,
            Ok(None) => return Lookup::Missing,
            Err(e) => {
                tracing::warn!(error = %e, doc = %id, "cannot look up a document waited for");
                return Lookup::Nothing;
            }
        };
        match entry.site().await {
            None => Lookup::Missing,
            Some(site) if self.may_see(&site) => {
                self.peer_doc(entry).await;
                self.push_sync(&id).await;
                Lookup::Attached
            }
            Some(_) => Lookup::Nothing,
        }
    }

    /// Takes what other connections handed over: documents waited for that may exist
    /// now, and presence for documents this peer syncs.
    pub(super) async fn on_inbox(&mut self) {
        let (appeared, ephemeral) = self.relayed.inbox.take();
        for id in appeared {
            if self.relayed.waiting.contains(&id) {
                self.wait_for(id).await;
            }
        }
        for message in ephemeral {
            let Some(peer) = self.docs.get(&message.document_id) else {
                continue;
            };
            let visible = match peer.entry.site().await {
                Some(site) => self.may_see(&site),
                None => false,
            };
            if visible {
                let Ephemeral {
                    sender_id,
                    document_id,
                    session_id,
                    count,
                    data,
                } = message.as_ref().clone();
                let relayed =
                    self.session
                        .ephemeral(sender_id, document_id, session_id, count, data);
                self.outbox.push(relayed);
            }
        }
    }

    /// An `ephemeral` message from this peer: relayed to the other connections syncing
    /// the document, if this user may see it and this peer syncs it; dropped otherwise, as
    /// is a repeat (a count that does not grow within its session).
    pub(super) async fn on_ephemeral(&mut self, message: Ephemeral) {
        let id = message.document_id;
        if message.data.len() > MAX_EPHEMERAL_BYTES {
            self.outbox.push(self.session.error(
                format!("ephemeral data over {MAX_EPHEMERAL_BYTES} bytes is not relayed"),
                Some(id),
            ));
            return;
        }
        let Some(peer) = self.docs.get(&id) else {
            return;
        };
        let entry = peer.entry.clone();
        match entry.site().await {
            Some(site) if self.may_see(&site) => {}
            _ => return,
        }
        let sessions = &mut self.relayed.sessions;
        if sessions
            .get(&message.session_id)
            .is_some_and(|last| message.count <= *last)
        {
            return;
        }
        if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(&message.session_id) {
            sessions.clear();
        }
        sessions.insert(message.session_id.clone(), message.count);
        entry.relay(&self.relayed.inbox, message);
    }
}
