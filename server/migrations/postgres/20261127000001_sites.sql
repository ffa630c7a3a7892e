-- Sites and their bays, rooms and entrances. An inspection copies a site's areas into its
-- own document when it starts, so editing a site never changes an inspection under way.
create table sites (
    id text primary key,
    name text not null,
    created_at timestamptz not null default now()
);

create table areas (
    site_id text not null references sites (id) on delete cascade,
    id text not null,
    kind text not null check (kind in ('bay', 'room', 'entrance')),
    name_zh text not null,
    name_en text not null,
    key_room boolean not null default false,
    position integer not null default 0,
    primary key (site_id, id)
);
