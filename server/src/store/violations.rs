//! The office's violations list: filters, and one newest-first index range per site
//! merged into a page, over the rows [`super::projection`] writes.

use serde::Serialize;
use sqlx::QueryBuilder;

use super::projection::ViolationRow;
use super::{Store, StoreError, push_in_list};
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

/// The columns of a listed violation, read from `violations v`.
const LISTED_COLUMNS: &str = "v.doc_id, v.answer_key, v.site_id, v.rule_id, v.template_id, \
     v.item_id, v.area_id, v.responsible_role, v.occurrences, v.fine_type, v.fine_yuan, \
     v.conflict, v.after_submission, v.recorded_at, v.clock_ahead_ms, v.recorded_by, \
     v.evidence, v.status, v.responsible_user";

impl ViolationFilter {
    /// Appends the filters other than the sites to a `where` clause over `violations v`,
    /// each as ` and …` with its value bound (written once for both dialects).
    fn push_conditions<DB>(&self, query: &mut QueryBuilder<DB>)
    where
        DB: sqlx::Database,
        for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        if let Some(from) = self.from {
            query.push(" and v.recorded_at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            query.push(" and v.recorded_at < ").push_bind(to);
        }
        let text = [
            (" and v.rule_id = ", &self.rule),
            (" and v.status = ", &self.status),
            (" and v.area_id = ", &self.area),
            (" and v.responsible_role = ", &self.role),
        ];
        for (condition, value) in text {
            if let Some(value) = value {
                query.push(condition).push_bind(value.as_str());
            }
        }
        match self.person.as_deref() {
            Some("") => {
                query.push(" and v.responsible_user is null");
            }
            Some(person) => {
                query.push(" and v.responsible_user = ").push_bind(person);
            }
            None => {}
        }
    }

    /// A page of the list: one index range per site, newest first and cut at the page's
    /// depth, merged. A group office over many sites reads a page's worth per site,
    /// instead of sorting every match.
    fn list_query<DB>(&self) -> QueryBuilder<DB>
    where
        DB: sqlx::Database,
        for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        let mut query = QueryBuilder::new("select w.*, u.display_name as responsible_name from (");
        for (i, site) in self.sites.iter().enumerate() {
            if i > 0 {
                query.push(" union all ");
            }
            query
                .push("select * from (select ")
                .push(LISTED_COLUMNS)
                .push(" from violations v where v.site_id = ")
                .push_bind(site.as_str());
            self.push_conditions(&mut query);
            query
                .push(" order by v.recorded_at desc, v.doc_id, v.answer_key limit ")
                .push_bind(self.limit + self.offset)
                // The subquery's alias, numbered by the loop: no value of the caller's.
                .push(format_args!(") s{i}"));
        }
        query
            .push(
                ") w left join users u on u.id = w.responsible_user \
                 order by w.recorded_at desc, w.doc_id, w.answer_key limit ",
            )
            .push_bind(self.limit)
            .push(" offset ")
            .push_bind(self.offset);
        query
    }

    /// How many match, counted up to `COUNT_LIMIT + 1`: counting every match of a broad
    /// filter over millions of rows costs more than the page itself, so the count stops
    /// one past the limit ("more than 10,000").
    fn count_query<DB>(&self) -> QueryBuilder<DB>
    where
        DB: sqlx::Database,
        for<'a> &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        for<'a> i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        let mut query = QueryBuilder::new(
            "select count(*) from (select 1 from violations v where v.site_id in ",
        );
        push_in_list(&mut query, &self.sites);
        self.push_conditions(&mut query);
        // A constant of this module, written as text like the rest of the statement.
        query.push(format_args!(" limit {}) c", COUNT_LIMIT + 1));
        query
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
        let (rows, total): (Vec<ListedViolation>, i64) = with_pool!(self, pool => {
            let rows = filter.list_query().build_query_as().fetch_all(pool).await?;
            let total = filter.count_query().build_query_scalar().fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows, total))
    }
}
