"""Live-row counts kept by triggers, so the feed counts a union view without scanning it.

Each table a view reads gets four statement-level triggers (insert, update, delete, truncate), enabled
ALWAYS, that add the change in live rows to `orgfeed.live_rows` in the writer's own transaction: a reader's
snapshot sees the rows and their count together, whoever wrote them (the loader, Heroku Connect, psql).
`orgfeed.view_live_rows` gives each registered view's per-branch counts, or null where one cannot be
proven exact; the feed then counts with count(*).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A live row is one a view shows: `isdeleted is not true`, and with a Heroku Connect schema's
# sfid also `sfid is not null` (its sfid is empty until a write-back lands): both counts are kept.
# Deltas are insert-only, so concurrent writers of one table never wait for each other; a writer in
# READ COMMITTED that wins a try-lock folds the rows of its table into one (DELETE ... RETURNING sums
# exactly the rows it removed). A TRUNCATE outside READ COMMITTED cannot see rows committed after its
# snapshot, so it marks the count inexact until the table is tracked again.
COUNT_LIVE_ROWS = """
create function orgfeed.count_live_rows() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    live bigint := 0;
    live_with_sfid bigint := 0;
    counted record;
begin
    if tg_op = 'TRUNCATE' then
        delete from orgfeed.live_rows where relid = tg_relid;
        insert into orgfeed.live_rows (relid, live, live_with_sfid, exact)
        values (tg_relid, 0, 0, current_setting('transaction_isolation') = 'read committed');
        return null;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        select count(*) filter (where isdeleted is not true) as live,
               count(*) filter (where isdeleted is not true and sfid is not null) as live_with_sfid
        into counted from new_rows;
        live := live + counted.live;
        live_with_sfid := live_with_sfid + counted.live_with_sfid;
    end if;
    if tg_op in ('UPDATE', 'DELETE') then
        select count(*) filter (where isdeleted is not true) as live,
               count(*) filter (where isdeleted is not true and sfid is not null) as live_with_sfid
        into counted from old_rows;
        live := live - counted.live;
        live_with_sfid := live_with_sfid - counted.live_with_sfid;
    end if;
    if live = 0 and live_with_sfid = 0 then
        return null;
    end if;
    insert into orgfeed.live_rows (relid, live, live_with_sfid) values (tg_relid, live, live_with_sfid);
    if current_setting('transaction_isolation') = 'read committed'
       and pg_try_advisory_xact_lock(hashtextextended('orgfeed/live_rows/' || tg_relid::text, 0)) then
        with folded as (delete from orgfeed.live_rows where relid = tg_relid returning *)
        insert into orgfeed.live_rows (relid, live, live_with_sfid, exact)
        select tg_relid, sum(folded.live), sum(folded.live_with_sfid), bool_and(folded.exact) from folded
        having count(*) > 0;
    end if;
    return null;
end $$
"""

# 'name:xmin' of each counting trigger that fires ALWAYS and runs orgfeed.count_live_rows, by name. Any
# ALTER of a trigger (DISABLE, ENABLE, DROP and CREATE) writes a new pg_trigger row version, so a table
# whose triggers were ever off shows other xmins than those recorded when its count began.
LIVE_ROWS_TRIGGERS = """
create function orgfeed.live_rows_triggers(target oid) returns text[]
language sql stable set search_path = pg_catalog, pg_temp as $$
    select coalesce(array_agg(tgname::text || ':' || xmin::text order by tgname), '{}')
    from pg_trigger
    where tgrelid = target and tgname like 'orgfeed\\_live\\_rows\\_%' and tgenabled = 'A'
      and tgfoid = 'orgfeed.count_live_rows()'::regprocedure
$$
"""

TRACK_LIVE_ROWS = """
create function orgfeed.track_live_rows(target regclass) returns boolean
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
    event text;
    transition text;
begin
    if exists (select from orgfeed.live_row_tables t
               where t.relid = target and t.triggers = orgfeed.live_rows_triggers(target)
                 and cardinality(t.triggers) = 4) then
        return true;
    end if;
    -- Writers wait while the triggers are created and the rows counted, so no change falls between.
    execute format('lock table %s in share row exclusive mode', target);
    delete from orgfeed.live_rows r where r.relid = target
        or not exists (select from pg_class c where c.oid = r.relid);
    delete from orgfeed.live_row_tables t where t.relid = target
        or not exists (select from pg_class c where c.oid = t.relid);
    foreach event in array array['insert', 'update', 'delete', 'truncate'] loop
        transition := case event
            when 'insert' then 'referencing new table as new_rows for each statement'
            when 'update' then 'referencing old table as old_rows new table as new_rows for each statement'
            when 'delete' then 'referencing old table as old_rows for each statement'
            else 'for each statement' end;
        execute format('drop trigger if exists %I on %s', 'orgfeed_live_rows_' || event, target);
        execute format('create trigger %I after %s on %s %s execute function orgfeed.count_live_rows()',
                       'orgfeed_live_rows_' || event, event, target, transition);
        execute format('alter table %s enable always trigger %I', target, 'orgfeed_live_rows_' || event);
    end loop;
    execute format(
        'insert into orgfeed.live_rows (relid, live, live_with_sfid) '
        'select %s, count(*) filter (where isdeleted is not true), '
        'count(*) filter (where isdeleted is not true and sfid is not null) from %s',
        target::oid, target);
    insert into orgfeed.live_row_tables (relid, triggers) values (target, orgfeed.live_rows_triggers(target));
    return true;
exception when insufficient_privilege then
    raise notice 'orgfeed: cannot keep a live-row count of % (%): counts over it scan the table', target, sqlerrm;
    return false;
end $$
"""

VIEW_DEFINITION_MD5 = """
create function orgfeed.view_definition_md5(target oid) returns text
language sql stable set search_path = pg_catalog, pg_temp as $$
    select md5(pg_get_viewdef(target))
$$
"""

REGISTER_VIEW_COUNT = """
create function orgfeed.register_view_count(target regclass, tables regclass[], geos text[], id_not_null boolean)
returns void language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
    insert into orgfeed.view_counts
        (view_schema, view_name, definition_md5, rule_version, table_schemas, table_names, geos, id_not_null)
    select n.nspname, c.relname, orgfeed.view_definition_md5(target),
           (select rule.xmin::text || ',' || rule.ctid::text from pg_rewrite rule
            where rule.ev_class = target and rule.rulename = '_RETURN'),
           array(select tn.nspname::text from unnest(tables) with ordinality as b(relid, position)
                 join pg_class tc on tc.oid = b.relid join pg_namespace tn on tn.oid = tc.relnamespace
                 order by b.position),
           array(select tc.relname::text from unnest(tables) with ordinality as b(relid, position)
                 join pg_class tc on tc.oid = b.relid order by b.position),
           geos, id_not_null
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = target
    on conflict (view_schema, view_name) do update
        set definition_md5 = excluded.definition_md5, rule_version = excluded.rule_version,
            table_schemas = excluded.table_schemas,
            table_names = excluded.table_names, geos = excluded.geos, id_not_null = excluded.id_not_null,
            registered_at = now();
end $$
"""

FORGET_VIEW_COUNT = """
create function orgfeed.forget_view_count(target regclass) returns void
language sql set search_path = pg_catalog, pg_temp as $$
    delete from orgfeed.view_counts v
    using pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.oid = target and v.view_schema = n.nspname and v.view_name = c.relname
$$
"""

# One row per branch of each registered view the caller may read; `live` is null unless the count is
# exact: the view is as registered (its definition's hash), the branch's table is tracked, its triggers
# are the ones whose xmins were recorded, and no logical-replication subscription writes it (the apply
# worker fires no statement triggers). A plain view, not a function, so `has_table_privilege` and the
# grants are the reader's while the orgfeed tables are read with the owner's rights.
# The version of a view's rule row (pg_rewrite): CREATE OR REPLACE VIEW, or a drop and create, always writes
# a new one. Cheap to compare on every count; the md5 of the definition vouches for a view recreated with
# the same definition (a full reload's swap), until `views apply` or the swap registers it again.
RULE_VERSION = "rule.xmin::text || ',' || rule.ctid::text"

# One row per branch of each registered view the caller may read; `live` is null unless the count is
# exact: the view is as registered, the branch's table is tracked, its triggers are the ones whose row
# versions were recorded, and no logical-replication subscription writes it (the apply worker fires no
# statement triggers). A plain view, not a function, so `has_table_privilege` and the grants are the
# reader's while the orgfeed tables are read with the owner's rights; and no function call per row, so
# a count costs well under a millisecond.
VIEW_LIVE_ROWS = f"""
create view orgfeed.view_live_rows as
select view_class.oid::regclass as view, b.position, b.geo,
       case when cardinality(t.triggers) = 4
             and t.triggers = (
                 select coalesce(array_agg(tg.tgname::text || ':' || tg.xmin::text order by tg.tgname), '{{}}')
                 from pg_catalog.pg_trigger tg
                 where tg.tgrelid = t.relid and tg.tgname like 'orgfeed\\_live\\_rows\\_%' and tg.tgenabled = 'A'
                   and tg.tgfoid = 'orgfeed.count_live_rows()'::regprocedure)
             and not exists (select from pg_catalog.pg_subscription_rel s where s.srrelid = t.relid)
            then (select case when bool_and(r.exact)
                              then sum(case when v.id_not_null then r.live_with_sfid else r.live end) end
                  from orgfeed.live_rows r where r.relid = t.relid)::bigint
       end as live
from orgfeed.view_counts v
join pg_catalog.pg_namespace view_schema on view_schema.nspname = v.view_schema
join pg_catalog.pg_class view_class on view_class.relnamespace = view_schema.oid and view_class.relname = v.view_name
join pg_catalog.pg_rewrite rule on rule.ev_class = view_class.oid and rule.rulename = '_RETURN'
cross join lateral unnest(v.table_schemas, v.table_names, v.geos)
    with ordinality as b(table_schema, table_name, geo, position)
left join pg_catalog.pg_namespace table_schema on table_schema.nspname = b.table_schema
left join pg_catalog.pg_class table_class
       on table_class.relnamespace = table_schema.oid and table_class.relname = b.table_name
left join orgfeed.live_row_tables t on t.relid = table_class.oid
where has_table_privilege(view_class.oid, 'select')
  and ({RULE_VERSION} = v.rule_version or orgfeed.view_definition_md5(view_class.oid) = v.definition_md5)
"""

# The feed's way in: plpgsql keeps the plan of its query for the session, so a count costs no planning of
# the catalog joins above (a few milliseconds) on every request. Runs as the caller: the view's filter holds.
VIEW_BRANCH_COUNTS = """
create function orgfeed.view_branch_counts(target regclass) returns table (geo text, live bigint)
language plpgsql stable set search_path = pg_catalog, pg_temp as $$
begin
    return query select b.geo, b.live from orgfeed.view_live_rows b where b.view = target order by b.position;
end $$
"""

REFRESH_VIEW_COUNT = f"""
create function orgfeed.refresh_view_count(target regclass) returns void
language sql set search_path = pg_catalog, pg_temp as $$
    update orgfeed.view_counts v set rule_version = {RULE_VERSION}
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_rewrite rule on rule.ev_class = c.oid and rule.rulename = '_RETURN'
    where c.oid = target and v.view_schema = n.nspname and v.view_name = c.relname
      and v.definition_md5 = orgfeed.view_definition_md5(target)
$$
"""


def upgrade() -> None:
    op.create_table(
        "live_rows",
        sa.Column("relid", postgresql.OID(), nullable=False, comment="the counted table (pg_class oid)"),
        sa.Column("live", sa.BigInteger(), nullable=False, comment="change in rows with isdeleted not true"),
        sa.Column("live_with_sfid", sa.BigInteger(), nullable=False, comment="same, counting only rows with an sfid"),
        sa.Column("exact", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        schema="orgfeed",
        comment="Live-row count deltas per table, written by orgfeed.count_live_rows in the writers' transactions.",
    )
    op.create_index(op.f("live_rows_relid_idx"), "live_rows", ["relid"], unique=False, schema="orgfeed")
    op.create_table(
        "live_row_tables",
        sa.Column("relid", postgresql.OID(), nullable=False),
        sa.Column(
            "triggers",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            comment="name:xmin of its counting triggers when the count began",
        ),
        sa.Column("tracked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("relid", name=op.f("live_row_tables_pkey")),
        schema="orgfeed",
        comment="Tables whose live rows are counted by triggers (orgfeed.track_live_rows).",
    )
    op.create_table(
        "view_counts",
        sa.Column("view_schema", sa.Text(), nullable=False),
        sa.Column("view_name", sa.Text(), nullable=False),
        sa.Column("definition_md5", sa.Text(), nullable=False, comment="md5 of pg_get_viewdef when registered"),
        sa.Column("rule_version", sa.Text(), nullable=False, comment="xmin,ctid of its pg_rewrite row then"),
        sa.Column(
            "table_schemas", postgresql.ARRAY(sa.Text()), nullable=False, comment="each branch's schema, in order"
        ),
        sa.Column("table_names", postgresql.ARRAY(sa.Text()), nullable=False, comment="each branch's table, in order"),
        sa.Column("geos", postgresql.ARRAY(sa.Text()), nullable=False, comment="each branch's geo, in order"),
        sa.Column("id_not_null", sa.Boolean(), nullable=False, comment="the view also requires an sfid"),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("view_schema", "view_name", name=op.f("view_counts_pkey")),
        schema="orgfeed",
        comment="Union views whose row count is the sum of their branches' live rows (generated views).",
    )
    for statement in (
        COUNT_LIVE_ROWS,
        LIVE_ROWS_TRIGGERS,
        TRACK_LIVE_ROWS,
        VIEW_DEFINITION_MD5,
        REGISTER_VIEW_COUNT,
        FORGET_VIEW_COUNT,
        REFRESH_VIEW_COUNT,
        VIEW_LIVE_ROWS,
        VIEW_BRANCH_COUNTS,
    ):
        op.execute(statement)
    # The view shows only views the reader may SELECT, so any role may query it (feed roles included).
    op.execute("grant usage on schema orgfeed to public")
    op.execute("grant select on orgfeed.view_live_rows to public")


def downgrade() -> None:
    op.execute("revoke usage on schema orgfeed from public")
    op.execute("drop function orgfeed.view_branch_counts(regclass)")
    op.execute("drop view orgfeed.view_live_rows")
    for function in (
        "refresh_view_count(regclass)",
        "forget_view_count(regclass)",
        "register_view_count(regclass, regclass[], text[], boolean)",
        "view_definition_md5(oid)",
        "track_live_rows(regclass)",
        "live_rows_triggers(oid)",
    ):
        op.execute(f"drop function orgfeed.{function}")
    op.execute("drop function orgfeed.count_live_rows() cascade")  # and the triggers on the org tables
    op.drop_table("view_counts", schema="orgfeed")
    op.drop_table("live_row_tables", schema="orgfeed")
    op.drop_index(op.f("live_rows_relid_idx"), table_name="live_rows", schema="orgfeed")
    op.drop_table("live_rows", schema="orgfeed")
