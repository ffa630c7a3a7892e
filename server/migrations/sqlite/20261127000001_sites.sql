-- Sites and their bays, rooms and entrances. An inspection copies a site's areas into its
-- own document when it starts, so editing a site never changes an inspection under way.
create table sites (
    id text primary key not null,
    name text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

create table areas (
    site_id text not null references sites (id) on delete cascade,
    id text not null,
    kind text not null check (kind in ('bay', 'room', 'entrance')),
    name_zh text not null,
    name_en text not null,
    key_room integer not null default 0 check (key_room in (0, 1)),
    position integer not null default 0,
    primary key (site_id, id)
);
