//! `POST /api/v1/violations/{doc}/{key}/review` and `GET /api/v1/violations/{doc}/{key}/reviews`:
//! the office acknowledges a violation, marks it corrected, waives its fine with a reason,
//! or reopens it. Office admins and managers of the violation's site only.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ids::SiteId;
use shared::policy::{self, Action};

use crate::auth::AuthUser;
use crate::http::error::{ApiJson, AppError};
use crate::state::AppState;
use crate::store::reviews::ReviewOutcome;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/violations/{doc}/{key}/review", post(review))
        .route("/api/v1/violations/{doc}/{key}/reviews", get(trail))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ReviewAction {
    Acknowledge,
    Correct,
    Waive,
    Reopen,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    action: ReviewAction,
    #[serde(default)]
    reason: String,
}

/// The violation's site, if the caller may see it; another site's violation is reported
/// as missing, like any other id the caller may not see.
async fn visible_site(
    state: &AppState,
    auth: &AuthUser,
    doc: &str,
    key: &str,
) -> Result<(SiteId, String), AppError> {
    let missing =
        || AppError::NotFound("no such violation".to_string()).because("no_such_violation");
    let (site, status) = state
        .store
        .violation_site_and_status(doc, key)
        .await?
        .ok_or_else(missing)?;
    let site = SiteId::parse(site).map_err(|e| AppError::Internal(e.to_string()))?;
    if !auth.user.belongs_to(&site) {
        return Err(missing());
    }
    Ok((site, status))
}

async fn review(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<Value>, AppError> {
    let (site, _) = visible_site(&state, &auth, &doc, &key).await?;
    let reason = body.reason.trim().to_string();
    let (action, needed, after) = match body.action {
        ReviewAction::Acknowledge => ("acknowledge", Action::Review, "acknowledged"),
        ReviewAction::Correct => ("correct", Action::Review, "corrected"),
        ReviewAction::Waive => ("waive", Action::Waive, "waived"),
        ReviewAction::Reopen => ("reopen", Action::Review, "open"),
    };
    policy::authorize(&auth.user, needed, Some(&site))?;
    if action == "waive" && reason.is_empty() {
        return Err(
            AppError::Unprocessable("a waiver needs a reason".to_string())
                .because("waive_needs_reason"),
        );
    }
    // Whether the violation is already `after` is decided inside the write transaction:
    // a status read here could be stale by the time of the write.
    match state
        .store
        .review_violation(&doc, &key, auth.user.id.as_str(), action, after, &reason)
        .await?
    {
        ReviewOutcome::NotFound => {
            Err(AppError::NotFound("no such violation".to_string()).because("no_such_violation"))
        }
        ReviewOutcome::Already(status) => Err(AppError::Conflict(format!(
            "the violation is already {status}"
        ))
        .because("already_in_status")
        .with("status", status)),
        ReviewOutcome::Done(status) => Ok(Json(
            json!({ "doc_id": doc, "answer_key": key, "status": status }),
        )),
    }
}

async fn trail(
    State(state): State<AppState>,
    auth: AuthUser,
    Path((doc, key)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    let (_, status) = visible_site(&state, &auth, &doc, &key).await?;
    let reviews = state.store.reviews(&doc, &key).await?;
    let assignments = state.store.assignments(&doc, &key).await?;
    Ok(Json(
        json!({ "status": status, "reviews": reviews, "assignments": assignments }),
    ))
}
