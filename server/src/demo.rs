//! The demo workshop `walkaround serve --demo` creates on an empty data directory.

use std::collections::BTreeSet;

use shared::i18n::Localized;
use shared::ids::{AreaId, SiteId, UserId};
use shared::role::Role;
use shared::site::{Area, AreaKind, Site};
use shared::time::CHINA;

use crate::auth;
use crate::office::review::{self, ReviewAction, ReviewStatus};
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
    let hash = auth::password_work(|| auth::hash_password(DEMO_PASSWORD))
        .await
        .and_then(|hashed| hashed)
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

/// What `serve --demo` prints for a store that already has users: it is left as it is,
/// so the way in is an existing login or a new user added from the command line.
/// `binary` is how to call this program (`cargo xtask run` puts no `walkaround` on the
/// PATH, so the message names the binary that is running).
pub fn existing_store(binary: &str) -> String {
    format!(
        "This store already has users, so no demo workshop was added. Log in with one of them \
         (the demo's logins use the password {DEMO_PASSWORD}), or add one with\n  \
         {binary} user add --username NAME --role workshop_manager --site SITE [--data-dir DIR] \
         (the password is read from standard input)\n"
    )
}

/// How many days of history the demo workshop starts with.
pub const HISTORY_DAYS: i64 = 42;

/// A small deterministic sequence, so that every demo looks the same.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// What the demo does for one inspection.
struct Run<'a> {
    template: &'a str,
    by: &'a str,
    start: chrono::DateTime<chrono::Utc>,
    /// Minutes from start to submission; `None` leaves it under way.
    submit_after: Option<i64>,
    /// Items that fail, with the note the inspector wrote.
    fails: Vec<(&'a str, &'a str)>,
}

/// Failed parts-store and front-desk items for the demo, by item id prefix: these rules
/// carry fines in yuan.
const PARTS_FAILS: [(&str, &str); 3] = [
    ("d3", "两份报价单客户未签字"),
    ("d1", "无工单领料"),
    ("d12", "辅料未登记"),
];
const DESK_FAILS: [(&str, &str); 3] = [
    ("b4", "客户投诉未上报"),
    ("b5-discounts", "私自给客户打折"),
    ("b6", "低毛利工单未审批"),
];

/// A failed item's note for the demo, by item id prefix.
const FAIL_NOTES: [(&str, &str); 8] = [
    ("c2", "未铺翼子板布"),
    ("c8", "喷漆房地面有废纸和胶带"),
    ("c9", "用报纸遮蔽"),
    ("c7", "旧件堆在工位旁"),
    ("c1", "客户进入车间未陪同"),
    ("c4", "工具车未归位"),
    ("c5", "通道有轮胎堆放"),
    ("c6", "废油未清理"),
];

/// Fills the demo workshop with six weeks of inspections: routines mostly on time, a few
/// late or missed, walkarounds with violations, and the office's reviews of the older
/// ones. Written through the same projection as synced documents.
pub async fn seed_history(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StartupError> {
    seed_history_days(store, now, HISTORY_DAYS).await
}

/// [`seed_history`] over `days` days instead of six weeks: about 3.3 inspections a day,
/// so about 3,050 days make a site of 10,000 (the benchmarks' `--demo-days`).
pub async fn seed_history_days(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
    days: i64,
) -> Result<(), StartupError> {
    use chrono::{Duration, TimeZone};
    use shared::builtin::{CLOSING, FRONT_DESK, LUNCH, OPENING, PARTS_AUDIT, WALKAROUND};

    let site = demo_site()?;
    let photo = include_bytes!("../../client-wasm/web/icon-192.png");
    let photo_ref = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(photo))
    };
    store
        .put_blob(&photo_ref, DEMO_SITE, "image/png", photo, "wang")
        .await?;
    store
        .set_routine_schedule(DEMO_SITE, &crate::office::routines::default_schedule())
        .await?;

    let today = now.with_timezone(&CHINA).date_naive();
    let mut dice = Dice(20_261_127);
    let mut runs: Vec<Run> = Vec::new();
    for back in (0..days).rev() {
        let day = today - Duration::days(back);
        let at = |h: u32, m: u32| {
            day.and_hms_opt(h, m, 0)
                .and_then(|t| CHINA.from_local_datetime(&t).single())
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        let weekday = chrono::Datelike::weekday(&day).number_from_monday();
        let mut plan: Vec<(&str, &str, u32, u32)> = vec![
            (OPENING, "zhou", 8, 40),
            (LUNCH, "li", 12, 5),
            (CLOSING, "li", 18, 0),
        ];
        if weekday == 5 {
            plan.push((PARTS_AUDIT, "yuan", 15, 30));
        }
        if weekday == 1 {
            plan.push((FRONT_DESK, "fang", 10, 15));
        }
        if weekday == 2 || weekday == 4 {
            plan.push((WALKAROUND, "wang", 10, 0));
        }
        for (template, by, h, m) in plan {
            let Some(start) = at(h, m) else { continue };
            if start > now {
                continue;
            }
            let roll = dice.roll(100);
            // About one routine in twelve is never done; one in ten is late.
            if template != WALKAROUND && roll < 8 {
                continue;
            }
            let submit_after = if template != WALKAROUND && roll < 18 {
                Some(75)
            } else {
                Some(20)
            };
            let mut fails = Vec::new();
            let (wanted, notes): (u64, &[(&str, &str)]) = match template {
                WALKAROUND => (1 + dice.roll(3), &FAIL_NOTES),
                PARTS_AUDIT => (dice.roll(3), &PARTS_FAILS),
                FRONT_DESK => (dice.roll(3), &DESK_FAILS),
                _ => (u64::from(dice.roll(4) == 0), &FAIL_NOTES),
            };
            for _ in 0..wanted {
                fails.push(notes[dice.roll(notes.len() as u64) as usize]);
            }
            let submit_after = submit_after.filter(|m| start + Duration::minutes(*m) <= now);
            runs.push(Run {
                template,
                by,
                start,
                submit_after,
                fails,
            });
        }
    }
    for run in &runs {
        write_demo_inspection(store, &site, run, &photo_ref, &mut dice).await?;
    }
    review_demo_violations(store, now).await
}

async fn write_demo_inspection(
    store: &Store,
    site: &Site,
    run: &Run<'_>,
    photo_ref: &str,
    dice: &mut Dice,
) -> Result<(), StartupError> {
    use chrono::Duration;
    use shared::ids::InspectionId;
    use shared::inspection::write::{self, NewInspection};
    use shared::inspection::{AnswerValue, PhotoRef};
    use shared::template::ItemKind;

    let config = |e: String| StartupError::Config(e);
    let template = shared::builtin::find(run.template)
        .ok_or_else(|| config(format!("no template {}", run.template)))?;
    let id = {
        let mut bytes = [0u8; 16];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = dice.roll(256) as u8 ^ (i as u8);
        }
        shared::protocol::DocumentId::from_bytes(bytes)
    };
    let by = UserId::parse(run.by).map_err(|e| config(e.to_string()))?;
    let new = NewInspection {
        id: InspectionId::parse(id.to_string()).map_err(|e| config(e.to_string()))?,
        site: site.id.clone(),
        template: template.clone(),
        areas: site.areas.clone(),
        created_by: by.clone(),
        created_at: run.start,
    };
    let actor = automerge::ActorId::from(id.as_bytes().to_vec());
    let mut doc = write::create(&new, actor).map_err(|e| config(e.to_string()))?;
    let photos = [PhotoRef::parse(photo_ref.to_string()).map_err(|e| config(e.to_string()))?];
    let mut at = run.start;
    for bay in site
        .areas
        .iter()
        .filter(|a| a.kind == AreaKind::Bay)
        .take(3)
    {
        at += Duration::seconds(20);
        write::set_occupied(&mut doc, &by, at, &bay.id, true).map_err(|e| config(e.to_string()))?;
    }
    let keys = shared::inspection::read(&doc)
        .map_err(|e| config(e.to_string()))?
        .expected_keys();
    let mut failed = Vec::new();
    for key in keys {
        at += Duration::seconds(25);
        let item = template
            .item(&key.item)
            .ok_or_else(|| config(format!("no item {key}")))?;
        let fail = run
            .fails
            .iter()
            .find(|(prefix, _)| item.id.as_str().starts_with(prefix) && !failed.contains(prefix))
            .filter(|_| matches!(item.kind, ItemKind::PassFail | ItemKind::Count { .. }));
        let (value, note, with_photos): (AnswerValue, Option<&str>, bool) = match (fail, &item.kind)
        {
            (Some((prefix, note)), kind) => {
                failed.push(prefix);
                let value = match kind {
                    ItemKind::Count { max } => AnswerValue::Count(max + 2),
                    _ => AnswerValue::Fail,
                };
                (value, Some(note), true)
            }
            (None, ItemKind::PassFail) => (AnswerValue::Pass, None, false),
            (None, ItemKind::Count { .. }) => (AnswerValue::Count(0), None, false),
            (None, ItemKind::Number { min, max, .. }) => {
                (AnswerValue::Number((min + max) / 2.0), None, false)
            }
            (None, ItemKind::Text) => (AnswerValue::Text("正常".to_string()), None, false),
            (None, ItemKind::Photo) => (AnswerValue::Photo, None, true),
            (None, ItemKind::Signature) => (AnswerValue::Signature(photos[0].clone()), None, false),
        };
        let attached: &[PhotoRef] = if with_photos { &photos } else { &[] };
        write::answer(&mut doc, &by, at, &key, &value, note, attached)
            .map_err(|e| config(e.to_string()))?;
    }
    if let Some(minutes) = run.submit_after {
        write::submit(&mut doc, &by, run.start + Duration::minutes(minutes))
            .map_err(|e| config(e.to_string()))?;
    }
    let view = shared::inspection::read(&doc).map_err(|e| config(e.to_string()))?;
    let violations = shared::rules::evaluate(&view);
    let projection = crate::store::projection::Projection::new(&view, &violations);
    let key = id.to_string();
    store
        .write_doc(&crate::store::documents::DocWrite {
            id: &key,
            kind: "inspection",
            site_id: Some(site.id.as_str()),
            template_id: Some(template.id.as_str()),
            created_by: Some(by.as_str()),
            chunk: &doc.save(),
            snapshot: None,
            replaces: &[],
            origin: "demo",
            projection: Some(&projection),
            previous: None,
            author: None,
        })
        .await?;
    Ok(())
}

/// The office has reviewed what is older than a week: most acknowledged or corrected, one
/// fine waived with a reason.
async fn review_demo_violations(
    store: &Store,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StartupError> {
    let filter = crate::store::violations::ViolationFilter {
        sites: vec![DEMO_SITE.to_string()],
        to: Some((now - chrono::Duration::days(7)).timestamp_millis()),
        limit: 10_000,
        ..Default::default()
    };
    let (rows, _) = store.violations(&filter).await?;
    for (i, v) in rows.iter().enumerate() {
        let (action, reason) = match i % 5 {
            0 | 1 => (ReviewAction::Correct, ""),
            2 | 3 => (ReviewAction::Acknowledge, ""),
            _ if i == 4 => (ReviewAction::Waive, "首次违规，口头警告"),
            _ => continue,
        };
        // Each violation once, from open: the workflow cannot refuse these steps.
        let decide = |before: &str| {
            ReviewStatus::parse(before)
                .ok_or(())
                .and_then(|before| review::transition(before, action, reason).map_err(drop))
                .map(ReviewStatus::as_str)
        };
        store
            .review_violation(
                &v.doc_id,
                &v.row.answer_key,
                "office",
                action.as_str(),
                reason,
                decide,
            )
            .await?;
    }
    Ok(())
}
