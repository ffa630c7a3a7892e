//! `GET /api/v1/documents`: discovery for tablets, the documents of the caller's sites in
//! the order they last changed, a page at a time after a cursor; with `scope=device`, only
//! what a floor device keeps (bounded sync, `shared::policy::device_keeps`).
//! `GET /api/v1/inspections`: the inspections of the caller's sites, newest first, for a
//! tablet to open one it does not keep.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::query::{MAX_PAGE, page, readable_sites};
use crate::auth::AuthUser;
use crate::http::error::AppError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/documents", get(documents))
        .route("/api/v1/inspections", get(inspections))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsQuery {
    since: Option<i64>,
    limit: Option<i64>,
    #[serde(default)]
    scope: Scope,
}

/// Which documents discovery lists.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Scope {
    /// Every document of the caller's sites.
    #[default]
    All,
    /// What a floor device keeps: not yet submitted, or started in the last
    /// `--device-days` days (China time).
    Device,
}

async fn documents(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<DocumentsQuery>,
) -> Result<Json<Value>, AppError> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(AppError::BadRequest(
            "since must be 0 or a cursor returned earlier".to_string(),
        )
        .because("bad_cursor"));
    }
    let limit = page(q.limit, MAX_PAGE)?;
    let sites = readable_sites(&auth, None)?;
    let window_start = match q.scope {
        Scope::All => None,
        Scope::Device => Some(
            shared::policy::device_window_start(chrono::Utc::now(), state.device_days)
                .timestamp_millis(),
        ),
    };
    let docs = state
        .store
        .docs_since(&sites, since, limit, window_start)
        .await?;
    let cursor = docs.last().map_or(since, |d| d.version);
    let documents: Vec<Value> = docs
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "url": format!("automerge:{}", d.id),
                "kind": d.kind,
                "site": d.site_id,
                "template": d.template_id,
                "created_by": d.created_by,
                "created_at": d.created_at,
                "updated_at": d.updated_at,
            })
        })
        .collect();
    let more = documents.len() as i64 == limit;
    Ok(Json(
        json!({ "documents": documents, "cursor": cursor, "more": more, "device_days": state.device_days }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectionsQuery {
    site: Option<String>,
    /// The `next` of the page before: `<start ms>.<document id>`.
    before: Option<String>,
    limit: Option<i64>,
    /// `older`: only those started before a floor device's window (what it does not keep
    /// unless they wait for submission); `all` (the default): every one.
    #[serde(default)]
    scope: InspectionsScope,
}

/// Which inspections [`inspections`] lists.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InspectionsScope {
    #[default]
    All,
    Older,
}

/// A `before` cursor, `<start ms>.<document id>`, as [`inspections`] hands them out.
fn parse_before(cursor: &str) -> Option<(i64, &str)> {
    let (at, id) = cursor.split_once('.')?;
    let at = at.parse::<i64>().ok().filter(|at| *at >= 0)?;
    shared::protocol::doc_id::DocumentId::parse(id).ok()?;
    Some((at, id))
}

/// The default page of [`inspections`]: a screenful.
const INSPECTIONS_PAGE: i64 = 50;

async fn inspections(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<InspectionsQuery>,
) -> Result<Json<Value>, AppError> {
    let sites = readable_sites(&auth, q.site.as_deref())?;
    let limit = page(q.limit, INSPECTIONS_PAGE)?;
    let before = match (q.before.as_deref(), q.scope) {
        (Some(cursor), _) => Some(parse_before(cursor).ok_or_else(|| {
            AppError::BadRequest("before must be a `next` returned earlier".to_string())
                .because("bad_cursor")
        })?),
        // Started before the window: no document id sorts below "", so the page starts
        // strictly before the window's first millisecond.
        (None, InspectionsScope::Older) => Some((
            shared::policy::device_window_start(chrono::Utc::now(), state.device_days)
                .timestamp_millis(),
            "",
        )),
        (None, InspectionsScope::All) => None,
    };
    let rows = state
        .store
        .inspections_before(&sites, before, limit)
        .await?;
    let next = match rows.last() {
        Some(last) if rows.len() as i64 == limit => {
            Value::String(format!("{}.{}", last.created_at, last.doc_id))
        }
        _ => Value::Null,
    };
    let inspections: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.doc_id,
                "site": r.site_id,
                "template": r.template_id,
                "created_by": r.created_by,
                "created_at": r.created_at,
                "submitted_at": r.submitted_at,
                "violations": r.violations,
                "fine_yuan": r.fine_yuan,
            })
        })
        .collect();
    Ok(Json(json!({ "inspections": inspections, "next": next })))
}
