-- A user's rights (role, status, sites) carry a version that every change to them moves on,
-- so that a document write can decide inside its own transaction that its author's rights
-- are still those the change was judged with (issue 21): the write reads
-- `rights_version` where it commits, instead of the sync connection reading the whole user
-- before judging every change.
alter table users add column rights_version integer not null default 0;

create trigger users_rights_changed after update of role, disabled on users
    when old.role is not new.role or old.disabled is not new.disabled
begin
    update users set rights_version = rights_version + 1 where id = new.id;
end;

create trigger user_sites_added after insert on user_sites
begin
    update users set rights_version = rights_version + 1 where id = new.user_id;
end;

-- Also when a site is deleted and its memberships go with it.
create trigger user_sites_removed after delete on user_sites
begin
    update users set rights_version = rights_version + 1 where id = old.user_id;
end;
