//! The tablet client: Walkaround's shared domain compiled to WebAssembly.
//!
//! A thin layer, in the manner of automerge's own wasm crate: newtypes around the shared
//! types, exported under camelCase names, every error turned into a JavaScript `Error`
//! at this boundary and nowhere else. This is the only crate that knows `JsValue`.
//!
//! The clock is read here (the shared crate never reads one): answers are stamped with the
//! tablet's time when they are made.

use automerge::{ActorId, Automerge};
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::ids::{AreaId, InspectionId, SiteId, UserId};
use shared::inspection::{self, AnswerKey, AnswerValue, NewInspection, PhotoRef, write};
use shared::site::Area;
use shared::template::Template;
use wasm_bindgen::prelude::*;

pub mod presence;
pub mod recover;
pub mod sync;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    // Maps become plain objects, so the app reads `state.answers["c1-visitors"]`.
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).map_err(js_err)
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("invalid {what}: {e}")))
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A new inspection from the app's arguments: a template and areas as plain objects.
pub(crate) fn new_inspection(
    id: &str,
    site: &str,
    template: JsValue,
    areas: JsValue,
    user: &str,
) -> Result<NewInspection, JsError> {
    let template: Template = from_js(template, "template")?;
    let areas: Vec<Area> = from_js(areas, "areas")?;
    Ok(NewInspection {
        id: InspectionId::parse(id).map_err(js_err)?,
        site: SiteId::parse(site).map_err(js_err)?,
        template,
        areas,
        created_by: UserId::parse(user).map_err(js_err)?,
        created_at: now(),
    })
}

/// Records an answer given in the app's terms: a key string, a `{type, value}` object,
/// photo hashes.
pub(crate) fn apply_answer(
    doc: &mut Automerge,
    user: &str,
    device: Option<&str>,
    key: &str,
    value: JsValue,
    note: Option<&str>,
    photos: Vec<String>,
) -> Result<(), JsError> {
    let key = AnswerKey::parse(key).map_err(js_err)?;
    let value: AnswerValue = from_js(value, "answer value")?;
    let photos = photos
        .into_iter()
        .map(PhotoRef::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(js_err)?;
    let user = UserId::parse(user).map_err(js_err)?;
    write::answer_from(doc, &user, device, now(), &key, &value, note, &photos).map_err(js_err)?;
    Ok(())
}

/// Marks a bay occupied or empty.
pub(crate) fn apply_occupied(
    doc: &mut Automerge,
    user: &str,
    bay: &str,
    occupied: bool,
) -> Result<(), JsError> {
    let user = UserId::parse(user).map_err(js_err)?;
    let bay = AreaId::parse(bay).map_err(js_err)?;
    write::set_occupied(doc, &user, now(), &bay, occupied).map_err(js_err)?;
    Ok(())
}

/// Submits.
pub(crate) fn apply_submit(doc: &mut Automerge, user: &str) -> Result<(), JsError> {
    let user = UserId::parse(user).map_err(js_err)?;
    write::submit(doc, &user, now()).map_err(js_err)?;
    Ok(())
}

/// The built-in templates, as plain objects.
#[wasm_bindgen(js_name = builtinTemplates)]
pub fn builtin_templates() -> Result<JsValue, JsError> {
    to_js(&shared::builtin::templates())
}

/// Whether this device keeps every inspection of the user's sites (`user` a user object,
/// `templates` the current template objects; `shared::policy::keeps_site_documents`): yes
/// for the roles that run inspections on the floor, whose discovery fetches each document
/// it lists; no for the office and for roles that run no template, whose devices hold only
/// the inspections opened (fetched on demand) or started on them.
#[wasm_bindgen(js_name = keepsSiteDocuments)]
pub fn keeps_site_documents(user: JsValue, templates: JsValue) -> Result<bool, JsError> {
    let user: shared::policy::User = from_js(user, "user")?;
    let templates: Vec<shared::template::Template> = from_js(templates, "templates")?;
    Ok(shared::policy::keeps_site_documents(&user, &templates))
}

/// Every role, in a stable order: `[{id, name: {zh, en}}]` (`shared::role::Role::ALL`), for
/// the screens that list or choose roles.
#[wasm_bindgen(js_name = roles)]
pub fn roles() -> Result<JsValue, JsError> {
    #[derive(serde::Serialize)]
    struct RoleInfo {
        id: shared::role::Role,
        name: shared::i18n::Localized,
    }
    let all: Vec<RoleInfo> = shared::role::Role::ALL
        .iter()
        .map(|&id| RoleInfo {
            id,
            name: id.name(),
        })
        .collect();
    to_js(&all)
}

/// Whether `user` (`{id, role, sites}`) may do `action` (`shared::policy::Action` in
/// snake_case: `read`, `create_inspection`, `answer`, `submit`, `review`, `waive`,
/// `edit_template`, `manage_users`), at `site` if given (`shared::policy::authorize`, the
/// rule the server enforces; the screens only hide what it would refuse).
/// Errors: an unknown action or a malformed user or site.
#[wasm_bindgen(js_name = may)]
pub fn may(user: JsValue, action: &str, site: Option<String>) -> Result<bool, JsError> {
    let user: shared::policy::User = from_js(user, "user")?;
    let action: shared::policy::Action = from_js(JsValue::from_str(action), "action")?;
    let site = site
        .map(shared::ids::SiteId::parse)
        .transpose()
        .map_err(|e| JsError::new(&format!("invalid site: {e}")))?;
    Ok(shared::policy::authorize(&user, action, site.as_ref()).is_ok())
}

/// The office's review statuses of a violation, in workflow order:
/// `[{id, name: {zh, en}, fine_stands}]` (`shared::review::ReviewStatus`).
#[wasm_bindgen(js_name = reviewStatuses)]
pub fn review_statuses() -> Result<JsValue, JsError> {
    #[derive(serde::Serialize)]
    struct StatusInfo {
        id: shared::review::ReviewStatus,
        name: shared::i18n::Localized,
        fine_stands: bool,
    }
    let all: Vec<StatusInfo> = shared::review::ReviewStatus::ALL
        .iter()
        .map(|&id| StatusInfo {
            id,
            name: id.name(),
            fine_stands: id.fine_stands(),
        })
        .collect();
    to_js(&all)
}

/// The review steps (`acknowledge`, `correct`, `waive`, `reopen`) `user` may take on a
/// violation in `status` at `site` (`shared::review::offered`): what the office's screen
/// offers; the server decides each step again. Errors: a malformed user, site or status.
#[wasm_bindgen(js_name = reviewActions)]
pub fn review_actions(user: JsValue, site: &str, status: &str) -> Result<JsValue, JsError> {
    let user: shared::policy::User = from_js(user, "user")?;
    let site = shared::ids::SiteId::parse(site)
        .map_err(|e| JsError::new(&format!("invalid site: {e}")))?;
    let status = shared::review::ReviewStatus::parse(status)
        .ok_or_else(|| JsError::new(&format!("invalid status: {status:?}")))?;
    to_js(&shared::review::offered(&user, &site, status))
}

/// The regulation's rules, as plain objects.
#[wasm_bindgen(js_name = regulation)]
pub fn regulation() -> Result<JsValue, JsError> {
    to_js(&shared::catalog::rules())
}

/// One inspection document held by the tablet.
#[wasm_bindgen]
pub struct InspectionDoc {
    doc: Automerge,
}

#[wasm_bindgen]
impl InspectionDoc {
    /// Starts a new inspection of `template` (a template object) at `site` with its
    /// `areas`, created by `user`.
    #[wasm_bindgen(js_name = create)]
    pub fn create(
        id: &str,
        site: &str,
        template: JsValue,
        areas: JsValue,
        user: &str,
    ) -> Result<InspectionDoc, JsError> {
        let new = new_inspection(id, site, template, areas, user)?;
        let doc = write::create(&new, ActorId::random()).map_err(js_err)?;
        Ok(InspectionDoc { doc })
    }

    /// Loads a document saved with [`InspectionDoc::save`] or received from the server.
    #[wasm_bindgen(js_name = load)]
    pub fn load(bytes: &[u8]) -> Result<InspectionDoc, JsError> {
        let doc = Automerge::load(bytes).map_err(js_err)?;
        inspection::read(&doc).map_err(js_err)?;
        Ok(InspectionDoc { doc })
    }

    /// The whole document, compacted, for IndexedDB.
    #[wasm_bindgen(js_name = save)]
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// Merges another copy of the same document (bytes from `save`).
    #[wasm_bindgen(js_name = merge)]
    pub fn merge(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let mut other = Automerge::load(bytes).map_err(js_err)?;
        self.doc.merge(&mut other).map_err(js_err)?;
        Ok(())
    }

    /// Answers `key` (`item` or `item@area`) with `value` (`{type: "fail"}`,
    /// `{type: "count", value: 2}`, …), an optional note and photo hashes.
    #[wasm_bindgen(js_name = answer)]
    pub fn answer(
        &mut self,
        user: &str,
        key: &str,
        value: JsValue,
        note: Option<String>,
        photos: Vec<String>,
    ) -> Result<(), JsError> {
        apply_answer(
            &mut self.doc,
            user,
            None,
            key,
            value,
            note.as_deref(),
            photos,
        )?;
        Ok(())
    }

    /// Marks a bay occupied by a car under repair, or empty.
    #[wasm_bindgen(js_name = setOccupied)]
    pub fn set_occupied(&mut self, user: &str, bay: &str, occupied: bool) -> Result<(), JsError> {
        apply_occupied(&mut self.doc, user, bay, occupied)
    }

    /// Submits the inspection; fails listing what is missing.
    #[wasm_bindgen(js_name = submit)]
    pub fn submit(&mut self, user: &str) -> Result<(), JsError> {
        apply_submit(&mut self.doc, user)
    }

    /// The inspection: template, areas, answers (conflicts as several records), submission.
    #[wasm_bindgen(js_name = state)]
    pub fn state(&self) -> Result<JsValue, JsError> {
        to_js(&inspection::read(&self.doc).map_err(js_err)?)
    }

    /// The answer keys this inspection asks for, in order.
    #[wasm_bindgen(js_name = expectedKeys)]
    pub fn expected_keys(&self) -> Result<Vec<String>, JsError> {
        let state = inspection::read(&self.doc).map_err(js_err)?;
        Ok(state
            .expected_keys()
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    /// What stands between the inspection and its submission.
    #[wasm_bindgen(js_name = submissionProblems)]
    pub fn submission_problems(&self) -> Result<Vec<String>, JsError> {
        Ok(inspection::read(&self.doc)
            .map_err(js_err)?
            .submission_problems())
    }

    /// The live violation list, computed by the same rules the server runs.
    #[wasm_bindgen(js_name = violations)]
    pub fn violations(&self) -> Result<JsValue, JsError> {
        let state = inspection::read(&self.doc).map_err(js_err)?;
        to_js(&shared::rules::evaluate(&state))
    }

    /// The document's heads, hex change hashes.
    #[wasm_bindgen(js_name = heads)]
    pub fn heads(&self) -> Vec<String> {
        self.doc
            .get_heads()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}
