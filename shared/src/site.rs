//! Sites and their areas: the bays, rooms and entrances a checklist walks through.

use serde::{Deserialize, Serialize};

use crate::i18n::Localized;
use crate::ids::{AreaId, SiteId};

/// What kind of place an area is; repeated template items pick areas by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    /// A repair bay (工位), with or without a lift.
    Bay,
    /// A function room (功能房间): tool room, parts store, paint-mixing room, …
    Room,
    /// An entrance of the workshop, closed during the lunch break when not essential.
    Entrance,
}

/// One bay, room or entrance of a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Area {
    /// Stable id within the site.
    pub id: AreaId,
    /// Bay, room or entrance.
    pub kind: AreaKind,
    /// Display name.
    pub name: Localized,
    /// A key room (关键房间) must be locked, not only closed.
    #[serde(default)]
    pub key_room: bool,
}

/// A workshop site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Stable id.
    pub id: SiteId,
    /// Display name.
    pub name: String,
    /// Its bays, rooms and entrances.
    pub areas: Vec<Area>,
}
