//! Sites and their areas (bays, rooms, entrances), as the store keeps them.

use shared::i18n::Localized;
use shared::ids::{AreaId, SiteId};
use shared::site::{Area, AreaKind, Site};

use super::{Store, StoreError};
use crate::{with_pool, write_transaction};

fn kind_str(kind: AreaKind) -> &'static str {
    match kind {
        AreaKind::Bay => "bay",
        AreaKind::Room => "room",
        AreaKind::Entrance => "entrance",
    }
}

fn parse_kind(s: &str) -> Result<AreaKind, StoreError> {
    match s {
        "bay" => Ok(AreaKind::Bay),
        "room" => Ok(AreaKind::Room),
        "entrance" => Ok(AreaKind::Entrance),
        other => Err(StoreError::Corrupt(format!("unknown area kind {other:?}"))),
    }
}

impl Store {
    /// Adds a site with its areas, in one transaction.
    pub async fn add_site(&self, site: &Site) -> Result<(), StoreError> {
        write_transaction!(self, tx => {
            sqlx::query("insert into sites (id, name) values ($1, $2)")
                .bind(site.id.as_str())
                .bind(&site.name)
                .execute(&mut *tx)
                .await?;
            for (position, area) in site.areas.iter().enumerate() {
                sqlx::query("insert into areas (site_id, id, kind, name_zh, name_en, key_room, position) values ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(site.id.as_str())
                    .bind(area.id.as_str())
                    .bind(kind_str(area.kind))
                    .bind(&area.name.zh)
                    .bind(&area.name.en)
                    .bind(area.key_room)
                    .bind(position as i64)
                    .execute(&mut *tx)
                    .await?;
            }
        })
    }

    /// A site with its areas.
    pub async fn site(&self, id: &SiteId) -> Result<Option<Site>, StoreError> {
        with_pool!(self, pool => {
            let name: Option<String> = sqlx::query_scalar("select name from sites where id = $1")
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            let Some(name) = name else { return Ok(None) };
            let rows: Vec<(String, String, String, String, bool)> = sqlx::query_as(
                "select id, kind, name_zh, name_en, key_room from areas where site_id = $1 order by position, id",
            )
            .bind(id.as_str())
            .fetch_all(pool)
            .await?;
            let areas = rows
                .into_iter()
                .map(|(aid, kind, zh, en, key_room)| {
                    Ok(Area {
                        id: AreaId::parse(aid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        kind: parse_kind(&kind)?,
                        name: Localized::new(zh, en),
                        key_room,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Some(Site { id: id.clone(), name, areas }))
        })
    }

    /// Ids of every site.
    pub async fn site_ids(&self) -> Result<Vec<SiteId>, StoreError> {
        let ids: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar("select id from sites order by id").fetch_all(pool).await?
        });
        ids.into_iter()
            .map(|s| SiteId::parse(s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }
}
