//! The demo workshop `walkaround serve --demo` creates on an empty data directory.

use std::collections::BTreeSet;

use shared::i18n::Localized;
use shared::ids::{AreaId, SiteId, UserId};
use shared::role::Role;
use shared::site::{Area, AreaKind, Site};

use crate::auth;
use crate::startup::StartupError;
use crate::store::Store;
use crate::store::users::UserRecord;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "walkaround-demo";
/// The demo site's id.
pub const DEMO_SITE: &str = "demo-site";

/// One demo user per role: (user name, display name, role).
pub const DEMO_USERS: [(&str, &str, Role); 7] = [
    ("office", "办公室 刘敏", Role::OfficeAdmin),
    ("wang", "车间经理 王强", Role::WorkshopManager),
    ("li", "班组长 李军", Role::TeamLead),
    ("fang", "服务经理 方浩", Role::ServiceManager),
    ("yuan", "备件经理 袁鹏", Role::PartsManager),
    ("zhou", "客服主管 周静", Role::CustomerServiceSupervisor),
    ("chen", "技师 陈亮", Role::Technician),
];

fn area(
    id: &str,
    kind: AreaKind,
    zh: &str,
    en: &str,
    key_room: bool,
) -> Result<Area, StartupError> {
    Ok(Area {
        id: AreaId::parse(id).map_err(|e| StartupError::Config(e.to_string()))?,
        kind,
        name: Localized::new(zh, en),
        key_room,
    })
}

/// The demo site: eight bays, five rooms (two of them key rooms), three entrances.
pub fn demo_site() -> Result<Site, StartupError> {
    let mut areas = Vec::new();
    for n in 1..=8 {
        areas.push(area(
            &format!("bay-{n}"),
            AreaKind::Bay,
            &format!("{n}号工位"),
            &format!("Bay {n}"),
            false,
        )?);
    }
    areas.push(area(
        "tool-room",
        AreaKind::Room,
        "工具间",
        "Tool room",
        true,
    )?);
    areas.push(area(
        "parts-store",
        AreaKind::Room,
        "备件库",
        "Parts store",
        true,
    )?);
    areas.push(area(
        "paint-mixing",
        AreaKind::Room,
        "调漆间",
        "Paint-mixing room",
        false,
    )?);
    areas.push(area(
        "paint-booth",
        AreaKind::Room,
        "烤漆房",
        "Paint booth",
        false,
    )?);
    areas.push(area(
        "break-room",
        AreaKind::Room,
        "休息室",
        "Break room",
        false,
    )?);
    areas.push(area(
        "east-gate",
        AreaKind::Entrance,
        "东门",
        "East gate",
        false,
    )?);
    areas.push(area(
        "west-gate",
        AreaKind::Entrance,
        "西门",
        "West gate",
        false,
    )?);
    areas.push(area(
        "back-door",
        AreaKind::Entrance,
        "后门",
        "Back door",
        false,
    )?);
    Ok(Site {
        id: SiteId::parse(DEMO_SITE).map_err(|e| StartupError::Config(e.to_string()))?,
        name: "示范4S店售后车间".to_string(),
        areas,
    })
}

/// Creates the demo workshop if the store has no users yet; returns whether it did.
pub async fn seed(store: &Store) -> Result<bool, StartupError> {
    if store.count_users().await? > 0 {
        return Ok(false);
    }
    let site = demo_site()?;
    store.add_site(&site).await?;
    let hash = tokio::task::spawn_blocking(|| auth::hash_password(DEMO_PASSWORD))
        .await
        .map_err(|e| StartupError::Config(e.to_string()))?
        .map_err(|e| StartupError::Config(e.to_string()))?;
    for (username, display_name, role) in DEMO_USERS {
        store
            .add_user(&UserRecord {
                id: UserId::parse(username).map_err(|e| StartupError::Config(e.to_string()))?,
                username: username.to_string(),
                display_name: display_name.to_string(),
                role,
                password_hash: hash.clone(),
                disabled: false,
                sites: BTreeSet::from([site.id.clone()]),
            })
            .await?;
    }
    Ok(true)
}

/// The lines `serve --demo` prints: who can log in, with which password.
pub fn logins() -> String {
    let mut out =
        format!("Demo workshop {DEMO_SITE}. Log in as any of these (password: {DEMO_PASSWORD}):\n");
    for (username, display_name, role) in DEMO_USERS {
        out.push_str(&format!(
            "  {username:<8} {display_name}  ({})\n",
            role.as_str()
        ));
    }
    out
}
