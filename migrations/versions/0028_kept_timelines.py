"""Timelines: each device's changes of state per district, kept for the districts asked about.

A timeline replays every device of its district through its revisions (a city: one to five
seconds). The replay's result is now kept for each district a timeline was asked of
(`timeline_districts`): every change of a device's state there (`timeline_device_changes`:
the state before and after, as a filter reads it, and when), and their numbers per district,
day or month and pair of states (`timeline_changes`), which a timeline adds up.

Writers only mark the devices they wrote (`timeline_device_marks`, no key, no lock): the next
timeline request, or `flask geodata refresh-statistics`, replays those devices again in every
kept district. They mark them even while no district is kept: a writer that skipped its marks
then could commit after a district was kept from a snapshot without its change. A change of a
district's polygon forgets its kept timeline, as an emptied devices table forgets them all; the
next request replays it whole.

The changes and numbers name their district without a foreign key (a check per row made
keeping a city's timeline half as slow again): forgetting a district deletes them by trigger,
and keeping one first deletes any a refresh wrote beside a forgetting it could not see.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATE = """
    {side}_kind text, {side}_status text, {side}_operator_type text, {side}_verification text"""
CHANGE = STATE.format(side="before") + "," + STATE.format(side="after")

TABLES = f"""
CREATE TABLE timeline_districts (
    code varchar(32) PRIMARY KEY REFERENCES districts (code) ON DELETE CASCADE
);
CREATE TABLE timeline_device_changes (
    code varchar(32) NOT NULL,
    device_id uuid NOT NULL,
    at timestamptz NOT NULL,{CHANGE}
);
CREATE INDEX timeline_device_changes_device_idx ON timeline_device_changes (device_id);
CREATE INDEX timeline_device_changes_code_at_idx ON timeline_device_changes (code, at);
CREATE TABLE timeline_changes (
    code varchar(32) NOT NULL,
    unit text NOT NULL CHECK (unit IN ('day', 'month')),
    period timestamptz NOT NULL,{CHANGE},
    n integer NOT NULL
);
CREATE INDEX timeline_changes_code_unit_period_idx ON timeline_changes (code, unit, period);
CREATE TABLE timeline_device_marks (device_id uuid NOT NULL);
"""

FUNCTIONS = """
CREATE FUNCTION mark_timeline_devices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'device_revisions' AND TG_OP = 'DELETE' THEN
        INSERT INTO timeline_device_marks SELECT device_id FROM old_rows;
    ELSIF TG_TABLE_NAME = 'device_revisions' THEN
        INSERT INTO timeline_device_marks SELECT device_id FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO timeline_device_marks SELECT id FROM old_rows;
    ELSE
        INSERT INTO timeline_device_marks SELECT id FROM new_rows;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION forget_timelines() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_districts;
    RETURN NULL;
END $$;

CREATE FUNCTION forget_kept_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM timeline_device_changes;
        DELETE FROM timeline_changes;
    ELSE
        DELETE FROM timeline_device_changes WHERE code IN (SELECT code FROM old_rows);
        DELETE FROM timeline_changes WHERE code IN (SELECT code FROM old_rows);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION forget_timelines_of_moved_borders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM timeline_districts t USING old_rows o JOIN new_rows n ON n.code = o.code
    WHERE t.code = o.code AND o.geom IS DISTINCT FROM n.geom;
    RETURN NULL;
END $$;
"""

TRIGGERS = [
    (table, operation, transition)
    for table in ("devices", "device_revisions")
    for operation, transition in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    )
]


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    for table, operation, transition in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {table}_mark_timelines_{operation.lower()} AFTER {operation} "
            f"ON {table} REFERENCING {transition} FOR EACH STATEMENT "
            "EXECUTE FUNCTION mark_timeline_devices()"
        )
    for table in ("devices", "device_revisions"):
        op.execute(
            f"CREATE TRIGGER {table}_forget_timelines AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION forget_timelines()"
        )
    op.execute(
        "CREATE TRIGGER timeline_districts_forget_changes AFTER DELETE ON timeline_districts "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION forget_kept_changes()"
    )
    op.execute(
        "CREATE TRIGGER timeline_districts_forget_all_changes AFTER TRUNCATE ON timeline_districts "
        "FOR EACH STATEMENT EXECUTE FUNCTION forget_kept_changes()"
    )
    op.execute(
        "CREATE TRIGGER districts_forget_timelines AFTER UPDATE ON districts "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION forget_timelines_of_moved_borders()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER districts_forget_timelines ON districts")
    op.execute("DROP TRIGGER timeline_districts_forget_all_changes ON timeline_districts")
    op.execute("DROP TRIGGER timeline_districts_forget_changes ON timeline_districts")
    for table in ("devices", "device_revisions"):
        op.execute(f"DROP TRIGGER {table}_forget_timelines ON {table}")
    for table, operation, _transition in TRIGGERS:
        op.execute(f"DROP TRIGGER {table}_mark_timelines_{operation.lower()} ON {table}")
    op.execute(
        "DROP FUNCTION forget_timelines_of_moved_borders(); DROP FUNCTION forget_timelines(); "
        "DROP FUNCTION forget_kept_changes(); "
        "DROP FUNCTION mark_timeline_devices()"
    )
    op.execute(
        "DROP TABLE timeline_device_marks, timeline_changes, timeline_device_changes, "
        "timeline_districts"
    )
