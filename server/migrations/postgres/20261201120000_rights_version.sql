-- A user's rights (role, status, sites) carry a version that every change to them moves on,
-- so that a document write can decide inside its own transaction that its author's rights
-- are still those the change was judged with (issue 21): the write reads
-- `rights_version` where it commits (with the user's row locked `for share` until then),
-- instead of the sync connection reading the whole user before judging every change.
alter table users add column rights_version bigint not null default 0;

create function users_rights_changed() returns trigger language plpgsql as $$
begin
    if new.role is distinct from old.role or new.disabled is distinct from old.disabled then
        new.rights_version := old.rights_version + 1;
    end if;
    return new;
end
$$;

create trigger users_rights_changed before update on users
    for each row execute function users_rights_changed();

-- Also when a site is deleted and its memberships go with it.
create function user_sites_changed() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        update users set rights_version = rights_version + 1 where id = old.user_id;
    else
        update users set rights_version = rights_version + 1 where id = new.user_id;
    end if;
    return null;
end
$$;

create trigger user_sites_changed after insert or delete on user_sites
    for each row execute function user_sites_changed();
