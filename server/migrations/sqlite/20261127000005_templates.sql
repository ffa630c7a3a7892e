-- Templates the office made or edited. Every edit is a new version; inspections copy the
-- version they start with, so running inspections keep theirs. Built-in templates are
-- version 1 of their ids until the office saves a version 2.
create table templates (
    id text not null,
    version integer not null,
    body text not null,
    created_by text not null,
    created_at integer not null,
    primary key (id, version)
);
