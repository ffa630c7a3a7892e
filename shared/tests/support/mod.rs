//! Helpers shared by the shared crate's integration tests: a demo site, users, documents.

#![allow(dead_code)]

use std::collections::BTreeSet;

use automerge::{ActorId, Automerge, Change};
use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::builtin;
use shared::i18n::Localized;
use shared::ids::{AreaId, InspectionId, ItemId, SiteId, UserId};
use shared::inspection::{self, AnswerKey, AnswerValue, NewInspection, PhotoRef, write};
use shared::policy::User;
use shared::role::Role;
use shared::site::{Area, AreaKind};

pub const SITE: &str = "site-1";

pub fn area(id: &str, kind: AreaKind, key_room: bool) -> Area {
    Area {
        id: AreaId::parse(id).expect("valid"),
        kind,
        name: Localized::new(id, id),
        key_room,
    }
}

/// Three bays, two rooms (one a key room), two entrances.
pub fn areas() -> Vec<Area> {
    vec![
        area("bay-1", AreaKind::Bay, false),
        area("bay-2", AreaKind::Bay, false),
        area("bay-3", AreaKind::Bay, false),
        area("tool-room", AreaKind::Room, true),
        area("mixing-room", AreaKind::Room, false),
        area("east-gate", AreaKind::Entrance, false),
        area("west-gate", AreaKind::Entrance, false),
    ]
}

pub fn user(id: &str, role: Role) -> User {
    user_at(id, role, &[SITE])
}

pub fn user_at(id: &str, role: Role, sites: &[&str]) -> User {
    User {
        id: UserId::parse(id).expect("valid"),
        role,
        sites: sites
            .iter()
            .map(|s| SiteId::parse(*s).expect("valid"))
            .collect::<BTreeSet<_>>(),
    }
}

pub fn manager() -> User {
    user("wang", Role::WorkshopManager)
}

pub fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .expect("valid time")
        + Duration::minutes(minutes)
}

pub fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

pub fn new_inspection(template: &str, by: &User) -> NewInspection {
    NewInspection {
        id: InspectionId::parse(format!("insp-{template}")).expect("valid"),
        site: SiteId::parse(SITE).expect("valid"),
        template: builtin::find(template).expect("built-in"),
        areas: areas(),
        created_by: by.id.clone(),
        created_at: t(0),
    }
}

pub fn create(template: &str, by: &User) -> Automerge {
    write::create(&new_inspection(template, by), actor(0)).expect("creates")
}

pub fn key(s: &str) -> AnswerKey {
    AnswerKey::parse(s).expect("valid key")
}

pub fn item(s: &str) -> ItemId {
    ItemId::parse(s).expect("valid")
}

pub fn photo(n: u8) -> PhotoRef {
    PhotoRef::parse(format!("{n:02x}").repeat(32)).expect("valid")
}

/// Answers with a note and a photo, so evidence requirements are always met.
pub fn answer(doc: &mut Automerge, by: &User, minute: i64, k: &str, value: AnswerValue) {
    write::answer(
        doc,
        &by.id,
        t(minute),
        &key(k),
        &value,
        Some("seen"),
        &[photo(1)],
    )
    .expect("answers");
}

/// A copy of `doc` with its own actor, like a second tablet that synced it.
pub fn replica(doc: &Automerge, n: u8) -> Automerge {
    Automerge::load(&doc.save())
        .expect("loads")
        .with_actor(actor(n))
}

pub fn last_change(doc: &Automerge) -> Change {
    doc.get_last_local_change().expect("a local change")
}

pub fn read(doc: &Automerge) -> inspection::Inspection {
    inspection::read(doc).expect("reads")
}
