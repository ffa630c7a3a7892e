//! `GET/POST /api/v1/users`, `PATCH /api/v1/users/{id}`, `POST /api/v1/users/{id}/disable`
//! and `/enable`: the office manages the people of its sites. Disabling a user ends every
//! session at once (its tokens stop working and its sync connections close).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::ids::{SiteId, UserId};
use shared::policy::{self, Action};
use shared::role::Role;
use shared::template::FieldError;

use crate::auth::{self, AuthUser, MIN_PASSWORD_CHARS, Password, PasswordError};
use crate::http::error::{ApiJson, AppError};
use crate::state::AppState;
use crate::store::users::UserRecord;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route("/api/v1/users/{id}", patch(update))
        .route("/api/v1/users/{id}/disable", post(disable))
        .route("/api/v1/users/{id}/enable", post(enable))
}

fn user_json(u: &UserRecord) -> Value {
    json!({ "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role, "sites": u.sites, "disabled": u.disabled })
}

/// Field-level validation errors, as one 422 (`invalid_body`, as this API always said).
fn invalid(errors: Vec<FieldError>) -> AppError {
    AppError::invalid_body(errors)
}

fn unknown_role(role: &str) -> FieldError {
    FieldError::new(
        "role",
        "unknown_role",
        format!("must be one of {}", Role::ALL.map(Role::as_str).join(", ")),
    )
    .with("role", role)
}

fn short_password(e: PasswordError) -> FieldError {
    FieldError::new("password", "password_too_short", e.to_string()).with("min", MIN_PASSWORD_CHARS)
}

/// The caller manages users, and every site named is one of theirs.
fn may_manage(auth: &AuthUser, sites: &BTreeSet<SiteId>) -> Result<(), AppError> {
    policy::authorize(&auth.user, Action::ManageUsers, None)?;
    for site in sites {
        policy::authorize(&auth.user, Action::ManageUsers, Some(site))?;
    }
    Ok(())
}

fn parse_sites(raw: &[String], errors: &mut Vec<FieldError>) -> BTreeSet<SiteId> {
    let mut sites = BTreeSet::new();
    for s in raw {
        match SiteId::parse(s.clone()) {
            Ok(id) => {
                sites.insert(id);
            }
            Err(e) => errors.push(
                FieldError::new("sites", "unknown_site", e.to_string()).with("site", s.as_str()),
            ),
        }
    }
    if raw.is_empty() {
        errors.push(FieldError::new(
            "sites",
            "no_sites",
            "name at least one site",
        ));
    }
    sites
}

async fn list(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Value>, AppError> {
    policy::authorize(&auth.user, Action::ManageUsers, None)?;
    let sites: Vec<String> = auth.user.sites.iter().map(ToString::to_string).collect();
    let users = state.store.users_of_sites(&sites).await?;
    Ok(Json(
        json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    role: String,
    sites: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut errors = Vec::new();
    let id = UserId::parse(body.username.clone())
        .map_err(|e| {
            errors.push(FieldError::new(
                "username",
                "invalid_username",
                e.to_string(),
            ))
        })
        .ok();
    let role = Role::parse(&body.role);
    if role.is_none() {
        errors.push(unknown_role(&body.role));
    }
    let password = Password::parse(body.password)
        .map_err(|e| errors.push(short_password(e)))
        .ok();
    let sites = parse_sites(&body.sites, &mut errors);
    let (Some(id), Some(role), Some(password), true) = (id, role, password, errors.is_empty())
    else {
        return Err(invalid(errors));
    };
    may_manage(&auth, &sites)?;
    for site in &sites {
        if state.store.site(site).await?.is_none() {
            return Err(invalid(vec![
                FieldError::new("sites", "unknown_site", format!("there is no site {site}"))
                    .with("site", site.as_str()),
            ]));
        }
    }
    let password_hash = auth::password_work(move || password.hash()).await??;
    let record = UserRecord {
        id,
        display_name: body
            .display_name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| body.username.clone()),
        username: body.username,
        role,
        password_hash,
        disabled: false,
        sites,
    };
    match state.store.add_user(&record).await {
        Err(e) if e.is_unique_violation() => Err(AppError::Conflict(format!(
            "a user {} already exists",
            record.username
        ))
        .because("user_exists")
        .with("user", record.username.as_str())),
        Err(e) => Err(e.into()),
        Ok(()) => Ok((StatusCode::CREATED, Json(user_json(&record)))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    display_name: Option<String>,
    role: Option<String>,
    sites: Option<Vec<String>>,
    password: Option<String>,
}

/// The user, if the caller manages one of its sites; another site's user is missing.
async fn managed_user(state: &AppState, auth: &AuthUser, id: &str) -> Result<UserRecord, AppError> {
    policy::authorize(&auth.user, Action::ManageUsers, None)?;
    let user = state.store.user_by_id(id).await?;
    user.filter(|u| u.sites.iter().any(|s| auth.user.belongs_to(s)))
        .ok_or_else(|| AppError::NotFound("no such user".to_string()).because("no_such_user"))
}

async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserChange>,
) -> Result<Json<Value>, AppError> {
    // The body is checked first, on its own; the user is read, judged and written in one
    // transaction (`Store::edit_user`), so the decision rests on the user as it is then.
    policy::authorize(&auth.user, Action::ManageUsers, None)?;
    let mut errors = Vec::new();
    if body
        .display_name
        .as_ref()
        .is_some_and(|name| name.trim().is_empty())
    {
        errors.push(FieldError::new(
            "display_name",
            "display_name_empty",
            "must not be empty",
        ));
    }
    let role = body.role.as_deref().and_then(|role| {
        let parsed = Role::parse(role);
        if parsed.is_none() {
            errors.push(unknown_role(role));
        }
        parsed
    });
    let sites = body.sites.map(|raw| parse_sites(&raw, &mut errors));
    let password = body
        .password
        .map(Password::parse)
        .transpose()
        .map_err(|e| errors.push(short_password(e)))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    // Argon2 is slow on purpose: hashed before the transaction, so no lock waits for it.
    let hash = match password {
        Some(p) => Some(auth::password_work(move || p.hash()).await??),
        None => None,
    };
    let display_name = body.display_name;
    let edited = state
        .store
        .edit_user(&id, hash.as_deref(), |user| {
            if !user.sites.iter().any(|s| auth.user.belongs_to(s)) {
                return Err(AppError::NotFound("no such user".to_string()).because("no_such_user"));
            }
            if let Some(name) = display_name {
                user.display_name = name;
            }
            if let Some(role) = role {
                user.role = role;
            }
            if let Some(sites) = sites {
                user.sites = sites;
            }
            may_manage(&auth, &user.sites)
        })
        .await??;
    let user = edited
        .ok_or_else(|| AppError::NotFound("no such user".to_string()).because("no_such_user"))?;
    Ok(Json(user_json(&user)))
}

async fn set_disabled(
    state: &AppState,
    auth: &AuthUser,
    id: &str,
    disabled: bool,
) -> Result<Json<Value>, AppError> {
    let mut user = managed_user(state, auth, id).await?;
    if disabled && user.id == auth.user.id {
        return Err(
            AppError::Conflict("you cannot disable yourself".to_string())
                .because("cannot_disable_self"),
        );
    }
    state.store.set_user_disabled(id, disabled).await?;
    user.disabled = disabled;
    Ok(Json(user_json(&user)))
}

async fn disable(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    set_disabled(&state, &auth, &id, true).await
}

async fn enable(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    set_disabled(&state, &auth, &id, false).await
}
