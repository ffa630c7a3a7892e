//! The connection alone, over channels: throttle, ping timeout, token expiry, revocation
//! and a refused change, each against a temporary SQLite store and without a socket.
//!
//! Each test builds the [`SyncContext`] the HTTP layer would hand the connection, runs
//! [`Connection::run`] on a channel sink and stream, and plays the tablet with the shared
//! `ClientSession` and an automerge document.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use automerge::sync::{Message as SyncMessage, State as SyncState, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash};
use axum::extract::FromRef;
use shared::ids::{InspectionId, SiteId, UserId};
use shared::inspection::{AnswerKey, AnswerValue, NewInspection, PhotoRef, write};
use shared::protocol::{self, ClientSession, DocumentId, Event, Message};
use shared::role::Role;
use shared::site::Site;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

use super::{CloseFrame, Connection, Frame};
use crate::auth::{self, AuthUser};
use crate::config::{Database, SyncLimits};
use crate::state::AppState;
use crate::store::Store;
use crate::store::users::UserRecord;
use crate::sync::SyncContext;

/// How long a test waits for something that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A temporary store with the demo site, a second site and three users; removed when
/// dropped.
struct Server {
    state: AppState,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    async fn start(limits: SyncLimits) -> Server {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "walkaround-connection-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&Database::Sqlite {
            data_dir: dir.clone(),
        })
        .await
        .expect("opens a temporary store");
        let state = crate::startup::app_state(store, limits)
            .await
            .expect("state");
        let demo = crate::demo::demo_site().expect("demo site");
        state.store.add_site(&demo).await.expect("adds the site");
        let other = Site {
            id: SiteId::parse("site-b").expect("valid"),
            name: "B".to_string(),
            areas: Vec::new(),
        };
        state.store.add_site(&other).await.expect("adds site B");
        for (id, role) in [
            ("wang", Role::WorkshopManager),
            ("li", Role::TeamLead),
            ("chen", Role::Technician),
        ] {
            state
                .store
                .add_user(&UserRecord {
                    id: UserId::parse(id).expect("valid"),
                    username: id.to_string(),
                    display_name: id.to_string(),
                    role,
                    // Nobody logs in with a password here.
                    password_hash: "unused".to_string(),
                    disabled: false,
                    sites: BTreeSet::from([demo.id.clone()]),
                })
                .await
                .expect("adds the user");
        }
        Server { state, dir }
    }

    /// What the HTTP layer hands a connection.
    fn context(&self) -> SyncContext {
        SyncContext::from_ref(&self.state)
    }

    /// A live login of `user` and its access token, checked as the upgrade checks it.
    async fn login(&self, user: &str) -> AuthUser {
        let store = &self.state.store;
        let sid = auth::random_token().expect("random");
        let expires = crate::store::now_ms() + 3_600_000;
        store
            .insert_refresh(&auth::token_hash(&sid), user, &sid, expires)
            .await
            .expect("stores the login");
        let now = chrono::Utc::now().timestamp();
        let (token, _) = self.state.keys.issue(user, &sid, now).expect("issues");
        auth::authenticate(&self.state.keys, store, &token)
            .await
            .expect("a valid token")
    }

    /// The heads of the document as stored.
    async fn stored_heads(&self, id: &DocumentId) -> Vec<ChangeHash> {
        let mut doc = Automerge::new();
        for (_, chunk) in self
            .state
            .store
            .doc_chunks_numbered(&id.to_string())
            .await
            .expect("reads")
        {
            doc.load_incremental(&chunk).expect("loads");
        }
        doc.get_heads()
    }
}

/// A peer's end of the channels: what it sends the connection and what it receives.
type ToServer = UnboundedSender<Result<Frame, Infallible>>;

/// Runs a connection on channels; returns the tablet's ends and the task.
fn run_on_channels(
    context: SyncContext,
    auth: AuthUser,
) -> (ToServer, UnboundedReceiver<Frame>, JoinHandle<()>) {
    let (to_server, mut incoming) = unbounded_channel::<Result<Frame, Infallible>>();
    let (outgoing, from_server) = unbounded_channel::<Frame>();
    let stream = futures_util::stream::poll_fn(move |cx| incoming.poll_recv(cx));
    let sink = futures_util::sink::unfold(outgoing, |outgoing, frame: Frame| async move {
        outgoing.send(frame).map_err(|_| "the tablet is gone")?;
        Ok::<_, &str>(outgoing)
    });
    let task = tokio::spawn(Connection::new(context, auth).run(Box::pin(sink), stream));
    (to_server, from_server, task)
}

/// A tablet on one connection, with at most one document.
struct Tablet {
    user: UserId,
    to_server: ToServer,
    from_server: UnboundedReceiver<Frame>,
    task: JoinHandle<()>,
    session: ClientSession,
    doc: Automerge,
    sync: SyncState,
    /// Protocol errors received, with the document they name.
    errors: Vec<(String, Option<DocumentId>)>,
    /// Documents reported unavailable.
    unavailable: Vec<DocumentId>,
    /// Pings received.
    pings: usize,
    /// The closing frame, once received.
    closed: Option<Option<CloseFrame>>,
}

impl Tablet {
    /// Connects as `auth` and completes the handshake.
    async fn connect(server: &Server, auth: AuthUser) -> Tablet {
        let user = auth.user.id.clone();
        let (to_server, from_server, task) = run_on_channels(server.context(), auth);
        let mut tablet = Tablet {
            user,
            to_server,
            from_server,
            task,
            session: ClientSession::new("tablet", Some("tablet-storage".to_string())),
            doc: Automerge::new(),
            sync: SyncState::new(),
            errors: Vec::new(),
            unavailable: Vec::new(),
            pings: 0,
            closed: None,
        };
        let join = tablet.session.join();
        tablet.send(&join);
        match tablet.next_message(PROMPTLY).await {
            Some(peer @ Message::Peer { .. }) => {
                tablet.session.receive(peer);
            }
            other => panic!("expected peer, got {other:?}"),
        }
        tablet
    }

    fn send_frame(&self, frame: Frame) {
        self.to_server
            .send(Ok(frame))
            .expect("the connection reads");
    }

    fn send(&self, message: &Message) {
        self.send_frame(Frame::Binary(protocol::encode(message).into()));
    }

    /// The next protocol message within `timeout`; pings are counted and skipped, and a
    /// closing frame is recorded.
    async fn next_message(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.from_server.recv()).await {
                Ok(Some(Frame::Binary(bytes))) => {
                    return Some(protocol::decode(&bytes).expect("the server sends valid CBOR"));
                }
                Ok(Some(Frame::Ping(_))) => self.pings += 1,
                Ok(Some(Frame::Close(close))) => {
                    self.closed = Some(close);
                    return None;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Why the connection closed, waiting up to `timeout` for it.
    async fn close_reason(&mut self, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.closed.is_none() {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return None;
            }
            if let Some(message) = self.next_message(deadline - now).await {
                self.absorb(message);
            } else if self.closed.is_none() && tokio::time::Instant::now() < deadline {
                // The channel ended without a closing frame.
                return Some("no closing frame".to_string());
            }
        }
        self.closed
            .clone()
            .map(|close| close.map(|c| c.reason).unwrap_or_default())
    }

    /// Applies one message from the server; returns whether it carried sync data.
    fn absorb(&mut self, message: Message) -> bool {
        let mut synced = false;
        for event in self.session.receive(message) {
            match event {
                Event::Sync { data, .. } => {
                    let message = SyncMessage::decode(&data).expect("valid sync data");
                    self.doc
                        .receive_sync_message(&mut self.sync, message)
                        .expect("applies");
                    synced = true;
                }
                Event::Unavailable { document_id } => self.unavailable.push(document_id),
                Event::PeerError {
                    message,
                    document_id,
                } => self.errors.push((message, document_id)),
                _ => {}
            }
        }
        synced
    }

    /// Sends what the server lacks of the document.
    fn push(&mut self, id: DocumentId) {
        let request = self.doc.get_heads().is_empty();
        if let Some(message) = self.doc.generate_sync_message(&mut self.sync) {
            let message = self.session.sync(id, message.encode(), request);
            self.send(&message);
        }
    }

    /// Syncs the document until neither side has more to say.
    async fn sync(&mut self, id: DocumentId) {
        self.push(id);
        while let Some(message) = self.next_message(Duration::from_millis(300)).await {
            if self.absorb(message) {
                self.push(id);
            }
        }
    }

    /// Starts an inspection of the demo site offline.
    fn create(&mut self, template: &str) -> DocumentId {
        static N: AtomicU32 = AtomicU32::new(0);
        let mut bytes = [7u8; 16];
        bytes[..4].copy_from_slice(&N.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        bytes[4..8].copy_from_slice(&std::process::id().to_be_bytes());
        let id = DocumentId::from_bytes(bytes);
        let new = NewInspection {
            id: InspectionId::parse(id.to_string()).expect("bs58 is a valid inspection id"),
            site: SiteId::parse(crate::demo::DEMO_SITE).expect("valid"),
            template: shared::builtin::find(template).expect("built-in"),
            areas: crate::demo::demo_site().expect("demo site").areas,
            created_by: self.user.clone(),
            created_at: chrono::Utc::now(),
        };
        self.doc = write::create(&new, self.actor()).expect("creates");
        id
    }

    fn actor(&self) -> ActorId {
        ActorId::from(self.user.as_str().as_bytes())
    }

    /// Answers an item offline.
    fn answer(&mut self, key: &str, value: AnswerValue) {
        let photos = [PhotoRef::parse("ab".repeat(32)).expect("valid")];
        write::answer(
            &mut self.doc,
            &self.user,
            chrono::Utc::now(),
            &AnswerKey::parse(key).expect("key"),
            &value,
            None,
            &photos,
        )
        .expect("answers");
    }
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// A document of the demo site created by wang, stored, with the tablet that made it.
async fn stored_inspection(server: &Server, template: &str) -> (Tablet, DocumentId) {
    let mut wang = Tablet::connect(server, server.login("wang").await).await;
    let id = wang.create(template);
    wang.sync(id).await;
    assert_eq!(
        server.stored_heads(&id).await,
        sorted(wang.doc.get_heads()),
        "the creation is stored"
    );
    (wang, id)
}

#[tokio::test]
async fn a_flooding_peer_is_slowed_to_the_sustained_rate_after_its_burst() {
    let limits = SyncLimits {
        frames_per_second: 20.0,
        frame_burst: 3.0,
        ..SyncLimits::default()
    };
    let server = Server::start(limits).await;
    let mut tablet = Tablet::connect(&server, server.login("wang").await).await;
    // The handshake took one token. Two more go at once, then 20 per second.
    let started = Instant::now();
    for _ in 0..12 {
        tablet.send_frame(Frame::Text("hello".to_string()));
    }
    for n in 0..12 {
        let answer = tablet.next_message(PROMPTLY).await;
        assert!(
            matches!(&answer, Some(Message::Error { message, .. }) if message == "frames must be binary CBOR"),
            "answer {n}: {answer:?}"
        );
    }
    let took = started.elapsed();
    // Ten frames beyond the burst at 20 per second: half a second.
    assert!(took >= Duration::from_millis(450), "12 frames in {took:?}");
    assert!(server.state.metrics.throttled.get() >= 9);
    // Slowed, not cut.
    assert!(tablet.closed.is_none());
}

#[tokio::test]
async fn a_peer_within_its_rate_is_not_slowed() {
    let server = Server::start(SyncLimits::default()).await;
    let mut tablet = Tablet::connect(&server, server.login("wang").await).await;
    let started = Instant::now();
    for _ in 0..12 {
        tablet.send_frame(Frame::Text("hello".to_string()));
    }
    for _ in 0..12 {
        assert!(tablet.next_message(PROMPTLY).await.is_some());
    }
    assert!(started.elapsed() < Duration::from_millis(450));
    assert_eq!(server.state.metrics.throttled.get(), 0);
}

#[tokio::test]
async fn a_silent_peer_is_pinged_then_closed() {
    let limits = SyncLimits {
        ping_interval: Duration::from_millis(100),
        ..SyncLimits::default()
    };
    let server = Server::start(limits).await;
    let auth = server.login("wang").await;
    // Before the handshake, the last the connection hears from the peer.
    let started = Instant::now();
    let mut tablet = Tablet::connect(&server, auth).await;
    assert_eq!(
        tablet.close_reason(PROMPTLY).await.as_deref(),
        Some("peer silent")
    );
    let took = started.elapsed();
    // Silent for more than two intervals, and pinged meanwhile.
    assert!(took >= Duration::from_millis(200), "closed after {took:?}");
    assert!(tablet.pings >= 1, "{} pings", tablet.pings);
    tokio::time::timeout(PROMPTLY, &mut tablet.task)
        .await
        .expect("the task ends")
        .expect("without panicking");
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    let limits = SyncLimits {
        ping_interval: Duration::from_millis(100),
        ..SyncLimits::default()
    };
    let server = Server::start(limits).await;
    let mut tablet = Tablet::connect(&server, server.login("wang").await).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout_at(until, tablet.from_server.recv()).await {
            Ok(Some(Frame::Ping(data))) => {
                tablet.pings += 1;
                tablet.send_frame(Frame::Pong(data));
            }
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) => panic!("the connection ended"),
            Err(_) => break,
        }
    }
    assert!(tablet.pings >= 4, "{} pings", tablet.pings);
    assert!(!tablet.task.is_finished());
}

#[tokio::test]
async fn an_expired_token_ends_the_connection_with_an_error() {
    let server = Server::start(SyncLimits::default()).await;
    let mut auth = server.login("wang").await;
    // It expires now; the connection allows the same clock skew as token validation.
    auth.claims.exp = chrono::Utc::now().timestamp();
    let mut tablet = Tablet::connect(&server, auth).await;
    let started = Instant::now();
    let leeway = Duration::from_secs(auth::LEEWAY_SECS);
    assert_eq!(
        tablet.close_reason(leeway + PROMPTLY).await.as_deref(),
        Some("token expired")
    );
    assert!(started.elapsed() >= leeway - Duration::from_millis(1100));
    assert_eq!(
        tablet.errors,
        [(
            "access token expired; reconnect with a fresh token".to_string(),
            None
        )]
    );
}

#[tokio::test]
async fn a_change_sent_after_the_user_is_disabled_is_refused_and_the_connection_ends() {
    let server = Server::start(SyncLimits::default()).await;
    let (mut wang, id) = stored_inspection(&server, "workshop-walkaround").await;
    let stored = server.stored_heads(&id).await;
    server
        .state
        .store
        .set_user_disabled("wang", true)
        .await
        .expect("disables");
    // At the next message, not the next revocation check.
    let started = Instant::now();
    wang.answer("c8-booth-floor", AnswerValue::Pass);
    wang.push(id);
    assert_eq!(
        wang.close_reason(PROMPTLY).await.as_deref(),
        Some("session revoked")
    );
    assert!(started.elapsed() < super::REVOCATION_CHECK);
    assert_eq!(
        wang.errors,
        [("the session has ended; log in again".to_string(), None)]
    );
    assert_eq!(server.stored_heads(&id).await, stored, "nothing stored");
}

#[tokio::test]
async fn a_change_for_a_site_the_user_has_left_is_treated_as_an_unknown_document() {
    let server = Server::start(SyncLimits::default()).await;
    let (mut wang, id) = stored_inspection(&server, "workshop-walkaround").await;
    let stored = server.stored_heads(&id).await;
    server
        .state
        .store
        .edit_user("wang", None, |user| {
            user.sites = BTreeSet::from([SiteId::parse("site-b").expect("valid")]);
            Ok::<(), ()>(())
        })
        .await
        .expect("stores")
        .expect("edits")
        .expect("wang exists");
    let started = Instant::now();
    wang.answer("c8-booth-floor", AnswerValue::Pass);
    wang.sync(id).await;
    assert!(started.elapsed() < super::REVOCATION_CHECK);
    assert_eq!(wang.unavailable, [id]);
    assert!(wang.errors.is_empty(), "{:?}", wang.errors);
    assert!(wang.closed.is_none(), "the connection stays open");
    assert_eq!(server.stored_heads(&id).await, stored, "nothing stored");
}

#[tokio::test]
async fn a_refused_change_is_answered_and_leaves_the_stored_document_as_it_was() {
    let server = Server::start(SyncLimits::default()).await;
    // Team leads run the closing routine; a technician may not answer it.
    let (_wang, id) = stored_inspection(&server, "closing-routine").await;
    let stored = server.stored_heads(&id).await;
    let mut chen = Tablet::connect(&server, server.login("chen").await).await;
    chen.sync(id).await;
    assert_eq!(
        sorted(chen.doc.get_heads()),
        stored,
        "chen has the document"
    );
    chen.answer("c5-lights", AnswerValue::Pass);
    chen.sync(id).await;
    assert!(
        matches!(chen.errors.as_slice(), [(message, Some(d))]
            if *d == id && message.starts_with("change refused: ")),
        "{:?}",
        chen.errors
    );
    assert!(chen.closed.is_none(), "refused, not disconnected");
    assert_eq!(server.stored_heads(&id).await, stored, "nothing stored");
    // The copy in memory is untouched too: another peer gets the stored document.
    let mut li = Tablet::connect(&server, server.login("li").await).await;
    li.sync(id).await;
    assert_eq!(sorted(li.doc.get_heads()), stored);
}
