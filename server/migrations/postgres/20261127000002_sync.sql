-- Users, sessions, documents and their storage, the audit log, and the office's
-- projection of inspections and violations. Times are milliseconds since the Unix epoch
-- (UTC) in both dialects, so the same queries serve SQLite and PostgreSQL.

create table users (
    id text primary key,
    username text not null unique,
    display_name text not null,
    role text not null,
    password_hash text not null,
    disabled boolean not null default false,
    created_at bigint not null
);

create table user_sites (
    user_id text not null references users (id) on delete cascade,
    site_id text not null references sites (id) on delete cascade,
    primary key (user_id, site_id)
);

-- Refresh tokens are stored as SHA-256 hashes; a family links the rotations of one login,
-- so the reuse of a rotated token revokes the whole family.
create table refresh_tokens (
    token_hash text primary key,
    user_id text not null references users (id) on delete cascade,
    family text not null,
    created_at bigint not null,
    expires_at bigint not null,
    revoked_at bigint
);
create index refresh_tokens_user on refresh_tokens (user_id);

-- Failed logins, counted per user name and per address over a sliding window.
create table login_failures (
    subject text not null,
    at bigint not null
);
create index login_failures_subject on login_failures (subject, at);

-- Every automerge document the server stores. `version` is a server-wide counter bumped
-- on every accepted change, the cursor of GET /api/v1/documents?since=.
create table documents (
    id text primary key,
    kind text not null,
    site_id text,
    template_id text,
    created_by text,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null
);
create index documents_version on documents (version);
create index documents_site on documents (site_id, version);

-- The stored bytes of a document: one snapshot and the incremental chunks after it.
create table doc_chunks (
    doc_id text not null references documents (id) on delete cascade,
    seq bigint not null,
    kind text not null check (kind in ('snapshot', 'incremental')),
    data bytea not null,
    primary key (doc_id, seq)
);

-- Sync states of peers that announced a storage id, so a reconnect sends only what is new.
create table sync_states (
    doc_id text not null references documents (id) on delete cascade,
    storage_id text not null,
    state bytea not null,
    updated_at bigint not null,
    primary key (doc_id, storage_id)
);

create table audit_log (
    id bigserial primary key,
    at bigint not null,
    user_id text,
    doc_id text,
    action text not null,
    code text not null,
    detail text not null
);

create table inspections (
    doc_id text primary key references documents (id) on delete cascade,
    site_id text not null,
    template_id text not null,
    template_version bigint not null,
    created_by text not null,
    created_at bigint not null,
    submitted_by text,
    submitted_at bigint,
    conflicts bigint not null,
    violations bigint not null,
    fine_yuan bigint not null,
    updated_at bigint not null
);
create index inspections_site on inspections (site_id, created_at);

create table violations (
    doc_id text not null references documents (id) on delete cascade,
    answer_key text not null,
    site_id text not null,
    rule_id text not null,
    template_id text not null,
    item_id text not null,
    area_id text,
    responsible_role text not null,
    occurrences bigint not null,
    fine_type text not null,
    fine_yuan bigint not null,
    conflict boolean not null,
    after_submission boolean not null,
    recorded_at bigint not null,
    recorded_by text not null,
    evidence text not null,
    status text not null default 'open',
    primary key (doc_id, answer_key)
);
create index violations_site_time on violations (site_id, recorded_at);
create index violations_rule on violations (rule_id, recorded_at);

-- Server-wide settings shared by every instance, such as the token signing key.
create table settings (
    key text primary key,
    value text not null
);

-- The server-wide document version counter (see documents.version).
create sequence document_versions;
