-- The office's decisions on violations: every review is a server-side record (who, when,
-- the status before and after, the reason), never a field a tablet can edit. The current
-- status stays on the violation row.
create table violation_reviews (
    id integer primary key autoincrement,
    doc_id text not null,
    answer_key text not null,
    at integer not null,
    user_id text not null,
    action text not null check (action in ('acknowledge', 'correct', 'waive', 'reopen')),
    reason text not null default '',
    status_before text not null,
    status_after text not null
);
create index violation_reviews_violation on violation_reviews (doc_id, answer_key, id);
