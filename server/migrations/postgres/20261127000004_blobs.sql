-- Photos and signature images, content-addressed by SHA-256. They live in the database so
-- every instance serves every blob; a blob belongs to the site it was uploaded for.
create table blobs (
    sha256 text not null,
    site_id text not null references sites (id) on delete cascade,
    content_type text not null,
    size bigint not null,
    data bytea not null,
    created_by text not null,
    created_at bigint not null,
    primary key (sha256, site_id)
);
