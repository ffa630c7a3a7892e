-- Time from a tablet is evidence, not truth (issue 17, input 4). A tablet time more than the
-- tolerance ahead of the server's clock when the server first receives it is recorded as the
-- receive time instead; the tablet's own time and how far ahead it was are kept beside it,
-- so the office sees "tablet clock ahead by …" and a later recomputation of the projection
-- keeps the time judged at first receipt (the claimed time identifies the same record).
alter table inspections add column created_clock_ahead_ms integer;
alter table inspections add column submitted_claimed_at integer;
alter table inspections add column submitted_clock_ahead_ms integer;
alter table violations add column recorded_claimed_at integer;
alter table violations add column clock_ahead_ms integer;
