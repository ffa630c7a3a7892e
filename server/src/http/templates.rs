//! `GET /api/v1/templates` (the current version of every template: the built-ins and the
//! office's), `PUT /api/v1/templates/{id}` (save a new version; office only) and
//! `GET /api/v1/regulation`.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};
use shared::ids::TemplateId;
use shared::policy::{self, Action};
use shared::template::Template;

use crate::auth::AuthUser;
use crate::http::error::{ApiJson, AppError, from_json};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/templates", get(templates))
        .route("/api/v1/templates/{id}", put(save))
        .route("/api/v1/regulation", get(regulation))
}

/// Every template in its current version, built-ins first, as the store has them.
pub async fn current_templates(state: &AppState) -> Result<Vec<Template>, AppError> {
    let mut all = shared::builtin::templates();
    for (id, _, body) in state.store.latest_templates().await? {
        let template: Template = serde_json::from_str(&body)
            .map_err(|e| AppError::Internal(format!("stored template {id}: {e}")))?;
        match all.iter_mut().find(|t| t.id == template.id) {
            Some(slot) => *slot = template,
            None => all.push(template),
        }
    }
    Ok(all)
}

async fn templates(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({ "templates": current_templates(&state).await? }),
    ))
}

/// Saves a new version of template `id` (a new id starts at version 1). The body is a
/// template without `id` and `version`, or with them matching: the server numbers
/// versions, so two offices saving at once cannot both write version 3.
async fn save(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<Json<Value>, AppError> {
    policy::authorize(&auth.user, Action::EditTemplate, None)?;
    let id = TemplateId::parse(id)
        .map_err(|e| AppError::BadRequest(e.to_string()).because("invalid_template_id"))?;
    let current = current_templates(&state).await?;
    let version = current
        .iter()
        .find(|t| t.id == id)
        .map_or(1, |t| t.version + 1);
    if let Some(object) = body.as_object_mut() {
        object.insert("id".into(), json!(id));
        object.insert("version".into(), json!(version));
    }
    // A body that does not fit names its field (`items[0].rule`) and why, never serde's text.
    let template: Template = from_json(body).map_err(|field| AppError::Invalid(vec![field]))?;
    template.validate().map_err(AppError::Invalid)?;
    let json = serde_json::to_string(&template).map_err(|e| AppError::Internal(e.to_string()))?;
    if !state
        .store
        .save_template(
            id.as_str(),
            i64::from(version),
            &json,
            auth.user.id.as_str(),
        )
        .await?
    {
        return Err(AppError::Conflict(
            "someone saved this template at the same time; reload and retry".to_string(),
        )
        .because("template_saved_meanwhile")
        .with("template", id.as_str()));
    }
    Ok(Json(json!({ "template": template })))
}

async fn regulation() -> Json<Value> {
    Json(json!({ "rules": shared::catalog::rules() }))
}
