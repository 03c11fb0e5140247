"""Consultations: every inquiry the hotline handled, handed off or not, for the office's figures by topic and
channel (hotline report).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Written by hand: one new table, so a plain CREATE TABLE on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "web", "12355")
TOPICS = ("wages", "injury", "minors", "other")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_key", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
        sa.UniqueConstraint("conversation_key", "topic", name=op.f("uq_consultations_conversation_key_topic")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_consultations_channel")),
        sa.CheckConstraint(_in("topic", TOPICS), name=op.f("ck_consultations_topic")),
    )
    op.create_index(op.f("ix_consultations_started_at"), "consultations", ["started_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_consultations_started_at"), table_name="consultations")
    op.drop_table("consultations")
