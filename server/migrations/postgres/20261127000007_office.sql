-- The office: who answers for a violation, routine schedules, and indexes for the
-- filtered violations list and the reports.

-- The person who answers for a violation (fines per person). Set when the violation is
-- first recorded if exactly one active user of the site holds the responsible role;
-- otherwise the office assigns one. Recomputing the projection never overwrites it.
alter table violations add column responsible_user text;

-- Every assignment, as a trail: who, when, the person before and after.
create table violation_assignments (
    id bigserial primary key,
    doc_id text not null,
    answer_key text not null,
    at bigint not null,
    user_id text not null,
    before_user text,
    after_user text
);
create index violation_assignments_violation on violation_assignments (doc_id, answer_key, id);

-- Each site's routine schedule: a template that must be submitted by a deadline, every
-- day or on one weekday (1 = Monday ... 7 = Sunday), in China Standard Time.
create table routine_schedules (
    site_id text not null references sites (id) on delete cascade,
    template_id text not null,
    weekday bigint,
    due_minute bigint not null check (due_minute >= 0 and due_minute < 1440),
    primary key (site_id, template_id)
);

-- The office's list filters by site and time, then by one of rule, status, area, role or
-- person; each gets an index that serves "newest first" within a site.
create index violations_site_rule_time on violations (site_id, rule_id, recorded_at);
create index violations_site_status_time on violations (site_id, status, recorded_at);
create index violations_site_area_time on violations (site_id, area_id, recorded_at);
create index violations_site_person_time on violations (site_id, responsible_user, recorded_at);
create index violations_site_role_time on violations (site_id, responsible_role, recorded_at);
create index inspections_site_template on inspections (site_id, template_id, created_at);
-- "Newest first" across all of a group's sites: scanned backwards, stopping at one page.
create index violations_time on violations (recorded_at);
