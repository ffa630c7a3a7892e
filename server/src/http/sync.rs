//! `GET /sync?token=JWT`: authenticates, takes a connection slot, upgrades to a WebSocket
//! and hands its frames to a [`Connection`].
//!
//! The connection gets a [`SyncContext`] (taken from `AppState` by axum's `FromRef`), not
//! the whole state: the keys and the slot table stay here.
//!
//! The token is checked before the upgrade (a bad one is a 401 with a JSON body, like every
//! other HTTP error), and a user with too many open connections gets a 429. After the
//! upgrade this module only translates between axum's WebSocket messages and the sync
//! layer's [`Frame`]s: the connection itself knows nothing of axum, so a test can drive it
//! over channels.

use std::future::ready;

use axum::extract::ws::{self, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::error::AppError;
use crate::auth::authenticate;
use crate::state::AppState;
use crate::sync::connection::{CloseFrame, Connection, Frame};
use crate::sync::{MAX_FRAME_BYTES, SyncContext};

/// Query of `/sync`.
#[derive(Debug, Deserialize)]
pub struct SyncQuery {
    /// The access token (stock clients cannot set headers on a WebSocket).
    token: Option<String>,
}

/// The read buffer a connection starts with: a typical sync message fits.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// How many bytes of queued frames a connection gathers before writing them to its
/// socket. A connection queues every message of one step and flushes once; tungstenite's
/// default (128 KiB) would let each connection's write buffer grow to that and keep it.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// `GET /sync`: authenticates, then upgrades to the sync protocol.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    State(context): State<SyncContext>,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = query.token.or(bearer).ok_or_else(|| {
        AppError::Unauthorized("missing token: connect to /sync?token=<access token>".to_string())
    })?;
    let auth = authenticate(&state.keys, &state.store, &token).await?;
    let slot = ConnectionSlot::take(&state, auth.user.id.as_str())?;
    Ok(ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // tungstenite allocates the whole read buffer per connection up front (128 KiB by
        // default), which made most of an idle tablet's cost on the server; it grows for
        // a larger frame when one comes.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = frames(socket);
            Connection::new(context, auth).run(sink, stream).await;
            drop(slot);
        }))
}

/// The socket as a sink and a stream of [`Frame`]s.
fn frames(
    socket: WebSocket,
) -> (
    impl futures_util::Sink<Frame, Error = axum::Error> + Unpin + Send,
    impl futures_util::Stream<Item = Result<Frame, axum::Error>> + Unpin + Send,
) {
    let (sink, stream) = socket.split();
    let sink = sink.with(|frame: Frame| ready(Ok::<_, axum::Error>(to_ws(frame))));
    let stream = stream.map(|message| message.map(from_ws));
    (sink, stream)
}

fn to_ws(frame: Frame) -> WsMessage {
    match frame {
        Frame::Binary(bytes) => WsMessage::Binary(bytes),
        Frame::Text(text) => WsMessage::Text(text.into()),
        Frame::Ping(bytes) => WsMessage::Ping(bytes),
        Frame::Pong(bytes) => WsMessage::Pong(bytes),
        Frame::Close(close) => WsMessage::Close(close.map(|c| ws::CloseFrame {
            code: c.code,
            reason: c.reason.into(),
        })),
    }
}

fn from_ws(message: WsMessage) -> Frame {
    match message {
        WsMessage::Binary(bytes) => Frame::Binary(bytes),
        WsMessage::Text(text) => Frame::Text(text.to_string()),
        WsMessage::Ping(bytes) => Frame::Ping(bytes),
        WsMessage::Pong(bytes) => Frame::Pong(bytes),
        WsMessage::Close(close) => Frame::Close(close.map(|c| CloseFrame {
            code: c.code,
            reason: c.reason.to_string(),
        })),
    }
}

/// One of a user's open connections on this instance; released when dropped.
struct ConnectionSlot {
    state: AppState,
    user: String,
}

impl ConnectionSlot {
    /// Takes a slot, or refuses with 429 when the user already has as many connections as
    /// the limit allows.
    fn take(state: &AppState, user: &str) -> Result<ConnectionSlot, AppError> {
        let mut open = state
            .connections
            .lock()
            .map_err(|_| AppError::Internal("connection table poisoned".to_string()))?;
        let count = open.entry(user.to_string()).or_insert(0);
        if *count >= state.limits.connections_per_user {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "at most {} open sync connections per user",
                    state.limits.connections_per_user
                ),
                retry_after: 30,
            });
        }
        *count += 1;
        Ok(ConnectionSlot {
            state: state.clone(),
            user: user.to_string(),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.state.connections.lock()
            && let Some(count) = open.get_mut(&self.user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}
