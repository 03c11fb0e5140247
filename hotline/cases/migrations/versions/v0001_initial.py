"""The case store: people, lawyers, duty shifts, cases, offers, events, messages, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-02

Written by hand (checked against the models by tests/cases/test_case_migrations.py): CHECK constraints and
names are explicit so that later migrations can refer to them on SQLite and PostgreSQL alike. op.f() marks a
name as final: without it the naming convention would be applied to a CHECK constraint's name a second time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the value lists as they were at this revision (the models' lists may grow later).
CHANNELS = ("telegram", "web", "12355")
STATUSES = ("queued", "offered", "claimed", "closed")
OUTCOMES = ("advice", "application", "referred", "no_answer")
DIRECTIONS = ("person_to_lawyer", "lawyer_to_person")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_key", sa.String(128), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("consent_at", _instant(), nullable=True),
        sa.Column("created_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("channel", "channel_key", name=op.f("uq_people_channel_channel_key")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_people_channel")),
    )
    op.create_table(
        "lawyers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("telegram_user_id", sa.String(32), nullable=True),
        sa.Column("languages", sa.String(64), nullable=False),
        sa.Column("topics", sa.String(200), nullable=False),
        sa.Column("minors_qualified", sa.Boolean(), nullable=False),
        sa.Column("supervisor", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lawyers")),
        sa.UniqueConstraint("telegram_user_id", name=op.f("uq_lawyers_telegram_user_id")),
    )
    op.create_table(
        "duty_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lawyer_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", _instant(), nullable=False),
        sa.Column("ends_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shifts")),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"], name=op.f("fk_duty_shifts_lawyer_id_lawyers")),
        sa.UniqueConstraint(
            "lawyer_id", "starts_at", "ends_at", name=op.f("uq_duty_shifts_lawyer_id_starts_at_ends_at")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_duty_shifts_ends_after_start")),
    )
    op.create_index(op.f("ix_duty_shifts_starts_at_ends_at"), "duty_shifts", ["starts_at", "ends_at"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(32), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(16), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("transcript_excerpt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_lawyer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("offered_at", _instant(), nullable=True),
        sa.Column("claimed_at", _instant(), nullable=True),
        sa.Column("first_response_at", _instant(), nullable=True),
        sa.Column("closed_at", _instant(), nullable=True),
        sa.Column("close_outcome", sa.String(16), nullable=True),
        sa.Column("amount_recovered", sa.Numeric(14, 2), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("escalated_at", _instant(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("ref", name=op.f("uq_cases_ref")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_cases_person_id_people")),
        sa.ForeignKeyConstraint(
            ["assigned_lawyer_id"], ["lawyers.id"], name=op.f("fk_cases_assigned_lawyer_id_lawyers")
        ),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_cases_status")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_cases_channel")),
        sa.CheckConstraint(
            f"close_outcome IS NULL OR {_in('close_outcome', OUTCOMES)}", name=op.f("ck_cases_close_outcome")
        ),
    )
    op.create_index(op.f("ix_cases_status"), "cases", ["status"])
    op.create_table(
        "case_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("lawyer_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("offered_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_offers")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_offers_case_id_cases")),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"], name=op.f("fk_case_offers_lawyer_id_lawyers")),
        sa.UniqueConstraint("case_id", "lawyer_id", name=op.f("uq_case_offers_case_id_lawyer_id")),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("direction", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_messages_case_id_cases")),
        sa.CheckConstraint(_in("direction", DIRECTIONS), name=op.f("ck_case_messages_direction")),
    )
    op.create_index(op.f("ix_case_messages_case_id"), "case_messages", ["case_id"])
    op.create_table(
        "outbox_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("sent_at", _instant(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_items")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_outbox_items_case_id_cases")),
    )
    op.create_index(op.f("ix_outbox_items_sent_at_id"), "outbox_items", ["sent_at", "id"])


def downgrade() -> None:
    # Children before parents: the foreign keys are enforced on both databases.
    op.drop_index(op.f("ix_outbox_items_sent_at_id"), table_name=op.f("outbox_items"))
    op.drop_table("outbox_items")
    op.drop_index(op.f("ix_case_messages_case_id"), table_name=op.f("case_messages"))
    op.drop_table("case_messages")
    op.drop_index(op.f("ix_case_events_case_id"), table_name=op.f("case_events"))
    op.drop_table("case_events")
    op.drop_table("case_offers")
    op.drop_index(op.f("ix_cases_status"), table_name=op.f("cases"))
    op.drop_table("cases")
    op.drop_index(op.f("ix_duty_shifts_starts_at_ends_at"), table_name=op.f("duty_shifts"))
    op.drop_table("duty_shifts")
    op.drop_table("lawyers")
    op.drop_table("people")
