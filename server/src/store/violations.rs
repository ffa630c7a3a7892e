//! The office's violations list: filters, and one newest-first index range per site
//! merged into a page, over the rows [`super::projection`] writes.

use serde::Serialize;

use super::projection::ViolationRow;
use super::{Store, StoreError};
use crate::with_pool;

/// The most matches the violations list counts exactly.
pub const COUNT_LIMIT: i64 = 10_000;

/// Filters of the violations list; every field optional.
#[derive(Debug, Clone, Default)]
pub struct ViolationFilter {
    /// Sites the caller may see (always applied).
    pub sites: Vec<String>,
    /// Recorded at or after, ms.
    pub from: Option<i64>,
    /// Recorded before, ms.
    pub to: Option<i64>,
    /// Rule id.
    pub rule: Option<String>,
    /// Review status.
    pub status: Option<String>,
    /// Area id.
    pub area: Option<String>,
    /// Responsible role.
    pub role: Option<String>,
    /// Responsible person (user id); the empty string selects violations nobody answers
    /// for yet.
    pub person: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// A violation as the office lists it: its row, with its document, review status and the
/// person who answers for it (the row's fields sent alongside these, not nested).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ListedViolation {
    /// The document (inspection).
    pub doc_id: String,
    /// The violation.
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub row: ViolationRow,
    /// How far (ms) the recording tablet's clock was ahead of the server's when this was
    /// received, if beyond
    /// [`CLOCK_TOLERANCE_MS`](super::projection::CLOCK_TOLERANCE_MS); `None` when its time
    /// was believed.
    pub clock_ahead_ms: Option<i64>,
    /// Review status.
    pub status: String,
    /// The person who answers for it, if known.
    pub responsible_user: Option<String>,
    /// That person's display name.
    pub responsible_name: Option<String>,
}

/// A value bound to a filter's placeholder.
#[derive(Debug, Clone)]
pub enum FilterValue {
    /// Text.
    Text(String),
    /// A number.
    Int(i64),
}

impl ViolationFilter {
    /// The `where` clause over `violations v` (fixed fragments and numbered placeholders
    /// only; every value is bound, in the order of [`ViolationFilter::values`]) and the
    /// number of placeholders it uses.
    pub fn clause(&self) -> (String, usize) {
        let (sites, rest, n) = self.parts();
        (format!("v.site_id in ({}){rest}", sites.join(", ")), n)
    }

    /// The placeholders of the sites, the rest of the clause (`and …` fragments) and the
    /// number of placeholders both use.
    fn parts(&self) -> (Vec<String>, String, usize) {
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let sites: Vec<String> = self.sites.iter().map(|_| next()).collect();
        let mut clause = String::new();
        if self.from.is_some() {
            clause.push_str(&format!(" and v.recorded_at >= {}", next()));
        }
        if self.to.is_some() {
            clause.push_str(&format!(" and v.recorded_at < {}", next()));
        }
        if self.rule.is_some() {
            clause.push_str(&format!(" and v.rule_id = {}", next()));
        }
        if self.status.is_some() {
            clause.push_str(&format!(" and v.status = {}", next()));
        }
        if self.area.is_some() {
            clause.push_str(&format!(" and v.area_id = {}", next()));
        }
        if self.role.is_some() {
            clause.push_str(&format!(" and v.responsible_role = {}", next()));
        }
        match self.person.as_deref() {
            Some("") => clause.push_str(" and v.responsible_user is null"),
            Some(_) => clause.push_str(&format!(" and v.responsible_user = {}", next())),
            None => {}
        }
        (sites, clause, n)
    }

    /// The values for the placeholders of [`ViolationFilter::clause`], in order.
    pub fn values(&self) -> Vec<FilterValue> {
        let mut values: Vec<FilterValue> = self
            .sites
            .iter()
            .map(|s| FilterValue::Text(s.clone()))
            .collect();
        values.extend(self.from.map(FilterValue::Int));
        values.extend(self.to.map(FilterValue::Int));
        for text in [&self.rule, &self.status, &self.area, &self.role] {
            values.extend(text.clone().map(FilterValue::Text));
        }
        if let Some(person) = self.person.as_deref().filter(|p| !p.is_empty()) {
            values.push(FilterValue::Text(person.to_string()));
        }
        values
    }
}

impl Store {
    /// The violations matching `filter`, newest first, and how many match in all, counted
    /// up to `COUNT_LIMIT + 1`.
    pub async fn violations(
        &self,
        filter: &ViolationFilter,
    ) -> Result<(Vec<ListedViolation>, i64), StoreError> {
        if filter.sites.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let (sites, rest, n) = filter.parts();
        let (limit, offset, depth) = (
            format!("${}", n + 1),
            format!("${}", n + 2),
            format!("${}", n + 3),
        );
        // One index range per site, newest first and cut at the page's depth, merged: a
        // group office over many sites reads a page's worth per site, instead of sorting
        // every match.
        let per_site = sites
            .iter()
            .enumerate()
            .map(|(i, site)| {
                format!(
                    "select * from (select v.doc_id, v.answer_key, v.site_id, v.rule_id, v.template_id, v.item_id, \
                     v.area_id, v.responsible_role, v.occurrences, v.fine_type, v.fine_yuan, v.conflict, \
                     v.after_submission, v.recorded_at, v.clock_ahead_ms, v.recorded_by, v.evidence, v.status, \
                     v.responsible_user \
                     from violations v where v.site_id = {site}{rest} \
                     order by v.recorded_at desc, v.doc_id, v.answer_key limit {depth}) s{i}"
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        let list_sql = format!(
            "select w.*, u.display_name as responsible_name from ({per_site}) w \
             left join users u on u.id = w.responsible_user \
             order by w.recorded_at desc, w.doc_id, w.answer_key limit {limit} offset {offset}"
        );
        let (clause, _) = filter.clause();
        // Counting every match of a broad filter over millions of rows costs more than the
        // page itself; the count stops one past COUNT_LIMIT ("more than 10,000").
        let count_sql = format!(
            "select count(*) from (select 1 from violations v where {clause} limit {}) c",
            COUNT_LIMIT + 1
        );
        macro_rules! bind_filters {
            ($q:expr) => {{
                let mut q = $q;
                for value in filter.values() {
                    q = match value {
                        FilterValue::Text(t) => q.bind(t),
                        FilterValue::Int(i) => q.bind(i),
                    };
                }
                q
            }};
        }
        let (rows, total): (Vec<ListedViolation>, i64) = with_pool!(self, pool => {
            let rows = bind_filters!(sqlx::query_as(sqlx::AssertSqlSafe(list_sql.clone())))
                .bind(filter.limit)
                .bind(filter.offset)
                .bind(filter.limit + filter.offset)
                .fetch_all(pool)
                .await?;
            let total = bind_filters!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())))
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        Ok((rows, total))
    }
}
