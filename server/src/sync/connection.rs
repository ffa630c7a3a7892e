//! One sync connection: the task behind a WebSocket of `GET /sync?token=JWT`.
//!
//! The upgrade and its checks live in `http/sync.rs`, which hands this task the socket as
//! a sink and a stream of [`Frame`]s, so nothing here knows axum. The task runs the shared
//! protocol session over binary frames and keeps one automerge sync state per document the
//! peer touches. It closes the connection when the token
//! expires, and within [`REVOCATION_CHECK`] of the login being revoked or the user
//! disabled.
//!
//! Rights are decided at the moment of use: a change is stored only if its author's rights
//! (role, sites, status) are, inside the write's own transaction, still those it was judged
//! with, not as they were at connect time, so an answer sent on a socket opened before a
//! demotion is refused like one on a new socket. The connection keeps the rights it last
//! read with their version (`users.rights_version`, which every change to them moves on);
//! a write whose author's version has moved fails with `RightsChanged`, and the connection
//! reads the user again and judges the message anew ([`Connection::on_frame`]). A refusal
//! is checked the same way before it is reported, so a promotion counts at once too. The
//! user is read when a document is opened or asked for, when a write or a refusal finds
//! the rights changed, and every [`REVOCATION_CHECK`]; a message with changes costs no
//! read of its own (issue 21: the reads, a round trip to a database thread each, were
//! 9 % of the server's CPU while two devices edited every document at once). Documents
//! the server pushes are bounded the other way: every [`REVOCATION_CHECK`] the user is
//! re-read as well, and the documents of sites they no longer belong to stop being sent.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync::State as SyncState;
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use shared::protocol::{self, DocumentId, Event, Message, ServerSession};

use super::context::SyncContext;
use super::hub::{DocEntry, PeerSync, Received, SyncError};
use super::relay::{Changed, Ephemeral};
use crate::auth::AuthUser;
use crate::store::StoreError;

mod relayed;
#[cfg(test)]
mod tests;

/// How often an open connection re-checks that its login is still live.
pub const REVOCATION_CHECK: Duration = Duration::from_secs(2);

/// A WebSocket frame as the connection sees it, whatever carries it: axum's WebSocket in
/// `http/sync.rs`, channels in a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A protocol message (CBOR).
    Binary(Bytes),
    /// Text, which the protocol does not use: answered with an error.
    Text(String),
    /// A ping: the connection sends one to learn whether the peer still reads.
    Ping(Bytes),
    /// The answer to a ping.
    Pong(Bytes),
    /// The closing handshake, with a code and reason when the sender gave one.
    Close(Option<CloseFrame>),
}

/// The code and reason of a closing frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code (1000 for a normal closure).
    pub code: u16,
    /// Why, for people reading logs.
    pub reason: String,
}

/// A token bucket: the frames a connection may still send at once.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A peer's view of one document.
struct PeerDoc {
    entry: Arc<DocEntry>,
    sync: PeerSync,
}

/// One peer's connection: its session, documents and limits.
pub struct Connection {
    context: SyncContext,
    auth: AuthUser,
    /// The version of the rights in `auth` (`users.rights_version`), once read by
    /// [`Connection::reload_user`]; `None` until then (the upgrade's read has none).
    rights_version: Option<i64>,
    session: ServerSession,
    storage_id: Option<String>,
    docs: HashMap<DocumentId, PeerDoc>,
    changed: Arc<Changed>,
    /// Documents waited for and presence, from other connections.
    relayed: relayed::Relayed,
    outbox: Vec<Message>,
    bucket: Bucket,
}

enum Flow {
    Continue,
    Close(String),
}

/// How a `sync` message went.
enum Synced {
    /// Answered: accepted, refused or failed, with what the peer is told queued.
    Done,
    /// Its write found the author's rights changed since they were read (or its refusal
    /// may be owed to rights that changed): nothing was stored or said; judge it again
    /// with the rights read anew.
    RightsChanged,
}

/// Runs one write to the peer's socket, allowing it `limit`: a peer that does not read
/// within it is closed, or its data would pile up in its task. The error is the reason the
/// connection closes.
async fn write_within<E>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("write error".to_string()),
        Err(_) => Err("peer not reading".to_string()),
    }
}

impl Connection {
    /// A connection for a user whose token was checked at the upgrade.
    pub fn new(context: SyncContext, auth: AuthUser) -> Connection {
        let session =
            ServerSession::new(context.peer_id.to_string(), context.storage_id.to_string());
        let burst = context.limits.frame_burst;
        let relayed = relayed::Relayed::new(context.hub.clone());
        Connection {
            context,
            auth,
            rights_version: None,
            session,
            storage_id: None,
            docs: HashMap::new(),
            changed: Arc::default(),
            relayed,
            outbox: Vec::new(),
            bucket: Bucket {
                tokens: burst,
                at: Instant::now(),
            },
        }
    }

    /// Runs the connection until the peer leaves, its token expires, its login ends, it
    /// stops reading or answering, or the server shuts down; then saves its sync states.
    pub async fn run<Si, St, E>(mut self, mut sink: Si, mut stream: St)
    where
        Si: Sink<Frame> + Unpin,
        St: Stream<Item = Result<Frame, E>> + Unpin,
        E: Display,
    {
        let expires_in = (self.auth.claims.exp - chrono::Utc::now().timestamp()).max(0) as u64;
        let expiry = tokio::time::sleep(
            Duration::from_secs(expires_in) + Duration::from_secs(crate::auth::LEEWAY_SECS),
        );
        tokio::pin!(expiry);
        let mut revocation = tokio::time::interval(REVOCATION_CHECK);
        let limits = self.context.limits;
        let mut ping = tokio::time::interval(limits.ping_interval);
        ping.tick().await;
        let mut heard = Instant::now();
        let mut shutdown = self.context.shutdown.clone();
        let changed = self.changed.clone();
        let inbox = self.relayed.inbox.clone();
        self.context.metrics.connections.inc();
        let close_reason = loop {
            let flow = tokio::select! {
                frame = stream.next() => {
                    heard = Instant::now();
                    match frame {
                        Some(Ok(Frame::Binary(bytes))) => {
                            self.throttle().await;
                            self.on_frame(&bytes).await
                        }
                        Some(Ok(Frame::Text(_))) => {
                            self.throttle().await;
                            self.outbox.push(self.session.error("frames must be binary CBOR".to_string(), None));
                            Flow::Continue
                        }
                        Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => Flow::Continue,
                        Some(Ok(Frame::Close(_))) | None => Flow::Close("peer closed".to_string()),
                        Some(Err(e)) => Flow::Close(format!("read error: {e}")),
                    }
                },
                () = inbox.notified() => {
                    self.on_inbox().await;
                    Flow::Continue
                }
                () = changed.notified() => {
                    for doc_id in changed.take() {
                        self.push_sync(&doc_id).await;
                    }
                    Flow::Continue
                }
                () = &mut expiry => {
                    self.outbox.push(self.session.error("access token expired; reconnect with a fresh token".to_string(), None));
                    Flow::Close("token expired".to_string())
                }
                _ = revocation.tick() => self.check_revocation().await,
                _ = ping.tick() => {
                    if heard.elapsed() > 2 * limits.ping_interval {
                        Flow::Close("peer silent".to_string())
                    } else {
                        match write_within(limits.write_timeout, sink.send(Frame::Ping(Bytes::new()))).await {
                            Ok(()) => Flow::Continue,
                            Err(reason) => Flow::Close(reason),
                        }
                    }
                }
                _ = shutdown.changed() => Flow::Close("server shutting down".to_string()),
            };
            let mut flow = flow;
            if !self.outbox.is_empty() {
                // Every frame queued, then one flush: the messages of one step (a
                // reconnecting tablet's documents, say) leave in as few writes as fit.
                let frames = self
                    .outbox
                    .drain(..)
                    .map(|message| Frame::Binary(protocol::encode(&message).into()));
                let mut written = Ok(());
                for frame in frames {
                    written = write_within(limits.write_timeout, sink.feed(frame)).await;
                    if written.is_err() {
                        break;
                    }
                }
                if written.is_ok() {
                    written = write_within(limits.write_timeout, sink.flush()).await;
                }
                if let Err(reason) = written {
                    flow = Flow::Close(reason);
                }
            }
            if let Flow::Close(reason) = flow {
                break reason;
            }
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            sink.send(Frame::Close(Some(CloseFrame {
                code: 1000,
                reason: close_reason.clone(),
            }))),
        )
        .await;
        tracing::debug!(user = %self.auth.user.id, reason = %close_reason, "sync connection closed");
        self.finish().await;
    }

    /// Waits until the connection may send another frame: a token bucket refilled at
    /// `frames_per_second`. While it waits the connection reads nothing, so a flooding
    /// peer is slowed by TCP itself and costs the others nothing.
    async fn throttle(&mut self) {
        let limits = self.context.limits;
        let now = Instant::now();
        let refill = now.duration_since(self.bucket.at).as_secs_f64() * limits.frames_per_second;
        self.bucket.tokens = (self.bucket.tokens + refill).min(limits.frame_burst);
        self.bucket.at = now;
        if self.bucket.tokens < 1.0 {
            let wait = (1.0 - self.bucket.tokens) / limits.frames_per_second;
            self.context.metrics.throttled.inc();
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
            self.bucket.tokens = 1.0;
            self.bucket.at = Instant::now();
        }
        self.bucket.tokens -= 1.0;
    }

    /// Every [`REVOCATION_CHECK`]: the login must still be live and the user enabled, and
    /// documents of sites the user has left stop being sent.
    async fn check_revocation(&mut self) -> Flow {
        let live = match self.reload_user().await {
            Ok(true) => self
                .context
                .store
                .family_active(&self.auth.claims.sid)
                .await
                .unwrap_or(true),
            Ok(false) => false,
            // A database hiccup is not a revocation; check again next time.
            Err(_) => true,
        };
        if !live {
            return self.session_ended();
        }
        self.drop_hidden_docs().await;
        Flow::Continue
    }

    /// The user's rights for a sync message, read again where access is decided: for a
    /// request, or a document this connection has not opened yet (with the current
    /// sites), and before the first message with changes (whose write needs the rights'
    /// version). Other messages are judged with the rights as last read: a write commits
    /// only if they are still the stored ones ([`Synced::RightsChanged`] otherwise), and
    /// the revocation check re-reads them every [`REVOCATION_CHECK`] and stops documents
    /// of sites the user has left. False if the user no longer exists or is disabled.
    async fn rights_for(
        &mut self,
        id: &DocumentId,
        request: bool,
    ) -> Result<bool, crate::store::StoreError> {
        if request || !self.docs.contains_key(id) || self.rights_version.is_none() {
            self.reload_user().await
        } else {
            Ok(true)
        }
    }

    /// Reads the user again and judges with their current role and sites from now on;
    /// false if they no longer exist or are disabled.
    async fn reload_user(&mut self) -> Result<bool, crate::store::StoreError> {
        match self
            .context
            .store
            .user_for_sync(self.auth.user.id.as_str())
            .await?
        {
            Some(rights) if !rights.user.disabled => {
                self.auth.user.role = rights.user.role;
                self.auth.user.sites = rights.user.sites.clone();
                self.auth.record = rights.user;
                self.rights_version = Some(rights.version);
                Ok(true)
            }
            _ => {
                self.rights_version = None;
                Ok(false)
            }
        }
    }

    /// Whether the user's rights are no longer those last read (changed, or the user gone
    /// or disabled): they are read again. A read that fails counts as changed, so nothing
    /// is reported on rights that could not be checked.
    async fn rights_moved(&mut self) -> bool {
        let before = self.rights_version;
        !matches!(self.reload_user().await, Ok(true)) || self.rights_version != before
    }

    /// Stops sending the documents of sites the user no longer belongs to. They are
    /// forgotten as if never opened: asking for one again is `doc-unavailable`.
    async fn drop_hidden_docs(&mut self) {
        let mut hidden = Vec::new();
        for (id, peer) in &self.docs {
            if let Some(site) = peer.entry.site().await
                && !self.auth.user.sites.iter().any(|s| s.as_str() == site)
            {
                hidden.push(*id);
            }
        }
        for id in hidden {
            if let Some(peer) = self.docs.remove(&id) {
                peer.entry.unwatch(&self.changed);
                self.context.hub.forget_if_empty(&peer.entry).await;
            }
        }
    }

    /// Tells the peer its session has ended and closes the connection.
    fn session_ended(&mut self) -> Flow {
        self.outbox.push(
            self.session
                .error("the session has ended; log in again".to_string(), None),
        );
        Flow::Close("session revoked".to_string())
    }

    async fn on_frame(&mut self, bytes: &[u8]) -> Flow {
        let message = match protocol::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.outbox.push(self.session.error(e.to_string(), None));
                return Flow::Continue;
            }
        };
        for event in self.session.receive(message) {
            match event {
                Event::Send(m) => self.outbox.push(m),
                Event::Joined { metadata, .. } => {
                    self.storage_id = metadata.storage_id.filter(|_| !metadata.is_ephemeral);
                }
                Event::Sync {
                    document_id,
                    data,
                    request,
                } => {
                    // A message whose write (or refusal) finds the rights changed is judged
                    // once more with the rights read anew; if they change again meanwhile,
                    // the peer is asked to retry.
                    for attempt in 0..2 {
                        let read = match attempt {
                            0 => self.rights_for(&document_id, request).await,
                            _ => self.reload_user().await,
                        };
                        match read {
                            Ok(true) => {}
                            Ok(false) => return self.session_ended(),
                            Err(e) => {
                                // Judging with rights that may be stale is what this avoids.
                                tracing::error!(error = %e, "cannot read the user to judge a change");
                                self.outbox.push(self.session.error(
                                    "the server could not check your rights; retry".to_string(),
                                    Some(document_id),
                                ));
                                break;
                            }
                        }
                        match self.on_sync(document_id, &data, request).await {
                            Synced::Done => break,
                            Synced::RightsChanged if attempt == 0 => {
                                self.context.metrics.rights_rejudged.inc();
                            }
                            Synced::RightsChanged => self.outbox.push(
                                self.session.error(
                                    "your rights changed while the change was stored; retry"
                                        .to_string(),
                                    Some(document_id),
                                ),
                            ),
                        }
                    }
                }
                Event::Ephemeral {
                    sender_id,
                    document_id,
                    session_id,
                    count,
                    data,
                } => {
                    self.on_ephemeral(Ephemeral {
                        sender_id,
                        document_id,
                        session_id,
                        count,
                        data,
                    })
                    .await
                }
                Event::Unavailable { .. } => {}
                Event::PeerError { message, .. } => {
                    tracing::debug!(%message, "peer reported an error")
                }
                Event::Leave => return Flow::Close("peer left".to_string()),
                Event::Close { reason } => return Flow::Close(reason),
            }
        }
        Flow::Continue
    }

    async fn peer_doc(&mut self, entry: Arc<DocEntry>) -> &mut PeerDoc {
        let id = entry.id;
        match self.docs.entry(id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let stored = match &self.storage_id {
                    Some(storage) => self
                        .context
                        .store
                        .sync_state(&id.to_string(), storage)
                        .await
                        .ok()
                        .flatten(),
                    None => None,
                };
                let state = stored
                    .and_then(|bytes| SyncState::decode(&bytes).ok())
                    .unwrap_or_default();
                entry.listen(&self.relayed.inbox);
                entry.watch(&self.changed);
                v.insert(PeerDoc {
                    entry,
                    sync: PeerSync::new(state),
                })
            }
        }
    }

    /// Answers one `sync` message, judged with the rights as last read (their version is
    /// known: [`Connection::rights_for`] read them if not).
    async fn on_sync(&mut self, id: DocumentId, data: &[u8], request: bool) -> Synced {
        let Some(rights_version) = self.rights_version else {
            // `rights_for` read them; a read since that left no version is one that found
            // the user gone or disabled.
            return Synced::RightsChanged;
        };
        // A document the user may not see is reported exactly like one that does not
        // exist. A `sync` for a document the server has not seen may be one a tablet
        // created offline: it gets a provisional entry (visible to nobody else) and its
        // creation is judged when the changes arrive.
        let entry = match self.context.hub.get(&id).await {
            Ok(Some(entry)) => match entry.site().await {
                Some(site) if self.auth.user.sites.iter().any(|s| s.as_str() == site) => entry,
                None if !request => entry,
                // Being created by another peer right now: it reaches this one once its
                // creation is accepted.
                None => {
                    self.outbox.push(self.session.unavailable(id));
                    self.wait_for(id).await;
                    return Synced::Done;
                }
                Some(_) => {
                    // Of a site the user has left (since the document was opened, perhaps).
                    self.drop_doc(&id);
                    self.outbox.push(self.session.unavailable(id));
                    return Synced::Done;
                }
            },
            Ok(None) if request => {
                self.outbox.push(self.session.unavailable(id));
                self.wait_for(id).await;
                return Synced::Done;
            }
            Ok(None) => match self.context.hub.get_or_new(&id) {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::error!(error = %e, "document map unavailable");
                    self.outbox
                        .push(self.session.error("internal error".to_string(), Some(id)));
                    return Synced::Done;
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot load document");
                self.outbox
                    .push(self.session.error("internal error".to_string(), Some(id)));
                return Synced::Done;
            }
        };
        let hub = self.context.hub.clone();
        let user = self.auth.user.clone();
        let started = std::time::Instant::now();
        let peer = self.peer_doc(entry.clone()).await;
        let result = hub
            .receive(&entry, &user, rights_version, &mut peer.sync, data)
            .await;
        match result {
            Ok(Received::Accepted { new_changes }) => {
                self.push_sync(&id).await;
                self.context
                    .metrics
                    .changes_applied
                    .inc_by(new_changes as u64);
                self.context
                    .metrics
                    .sync_latency
                    .observe(started.elapsed().as_secs_f64());
            }
            Ok(Received::Refused(_)) if self.rights_moved().await => {
                // Judged with rights that are not the stored ones any more (a promotion,
                // say): judged again, not reported.
                hub.forget_if_empty(&entry).await;
                if entry.site().await.is_none() {
                    self.drop_doc(&id);
                }
                return Synced::RightsChanged;
            }
            Ok(Received::Refused(denial)) => {
                if let Some(peer) = self.docs.get_mut(&id) {
                    peer.sync.forget_pending();
                }
                self.context.metrics.changes_rejected.inc();
                hub.forget_if_empty(&entry).await;
                tracing::info!(user = %user.id, doc = %id, code = denial.code(), "change refused");
                if let Err(e) = self
                    .context
                    .store
                    .audit(
                        Some(user.id.as_str()),
                        Some(&id.to_string()),
                        "sync",
                        denial.code(),
                        &denial.to_string(),
                    )
                    .await
                {
                    tracing::error!(error = %e, "cannot write the audit log");
                }
                self.outbox.push(
                    self.session
                        .error(format!("change refused: {denial}"), Some(id)),
                );
                if entry.site().await.is_none() {
                    self.drop_doc(&id);
                }
            }
            Err(SyncError::Invalid(message)) => {
                hub.forget_if_empty(&entry).await;
                self.outbox.push(self.session.error(message, Some(id)));
            }
            Err(SyncError::Store(StoreError::RightsChanged)) => {
                hub.forget_if_empty(&entry).await;
                if entry.site().await.is_none() {
                    self.drop_doc(&id);
                }
                return Synced::RightsChanged;
            }
            Err(SyncError::Store(e)) => {
                tracing::error!(error = %e, doc = %id, "cannot store a change");
                self.outbox.push(self.session.error(
                    "the server could not store the change; retry".to_string(),
                    Some(id),
                ));
            }
        }
        Synced::Done
    }

    fn drop_doc(&mut self, id: &DocumentId) {
        if let Some(peer) = self.docs.remove(id) {
            peer.entry.unwatch(&self.changed);
        }
    }

    /// Sends the peer whatever it lacks of a document.
    async fn push_sync(&mut self, id: &DocumentId) {
        let Some(peer) = self.docs.get_mut(id) else {
            return;
        };
        // The message generated below holds every change accepted before it, so a mark
        // left by one of them (this connection's own, just accepted) would only make the
        // connection generate again for nothing. A change accepted after this marks again.
        self.changed.unmark(id);
        match peer.entry.generate(&mut peer.sync).await {
            Ok(Some(data)) => {
                let message = self.session.sync(*id, data);
                self.outbox.push(message);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, doc = %id, "cannot load a document");
                self.outbox
                    .push(self.session.error("internal error".to_string(), Some(*id)));
            }
        }
    }

    /// Saves the sync states of a peer that has storage, and stops watching its documents.
    async fn finish(mut self) {
        let metrics = self.context.metrics.clone();
        self.save_states().await;
        metrics.connections.dec();
    }

    async fn save_states(&mut self) {
        let mut states = Vec::new();
        for (id, peer) in self.docs.drain() {
            peer.entry.unwatch(&self.changed);
            self.context.hub.forget_if_empty(&peer.entry).await;
            if self.storage_id.is_none() || peer.entry.site().await.is_none() {
                continue;
            }
            states.push((id.to_string(), peer.sync.state.encode()));
        }
        let Some(storage) = &self.storage_id else {
            return;
        };
        if let Err(e) = self.context.store.put_sync_states(storage, &states).await {
            tracing::warn!(error = %e, "cannot save sync states");
        }
    }
}
