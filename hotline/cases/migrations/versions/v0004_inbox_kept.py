"""The web chat's inbox (what a lawyer or the hotline sends a web-chat person, fetched by their page), the
messages kept while the dialogue service was down (answered in order when it is back), and a lease on outbox
items so that several gateways deliver each item once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Written by hand: two new tables, plain CREATE TABLE on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "web", "12355")
SENDERS = ("lawyer", "hotline")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("outbox_items", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "person_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_key", sa.String(128), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_inbox")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_person_inbox_channel")),
        sa.CheckConstraint(_in("sender", SENDERS), name=op.f("ck_person_inbox_sender")),
    )
    op.create_index(op.f("ix_person_inbox_channel_channel_key_id"), "person_inbox", ["channel", "channel_key", "id"])
    op.create_table(
        "kept_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_key", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_kept_messages_message_id")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_kept_messages_channel")),
    )
    op.create_index(op.f("ix_kept_messages_answered_at_id"), "kept_messages", ["answered_at", "id"])
    op.create_index(op.f("ix_kept_messages_conversation_key_id"), "kept_messages", ["conversation_key", "id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox_items") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("claimed_until")
    op.drop_index(op.f("ix_kept_messages_conversation_key_id"), table_name="kept_messages")
    op.drop_index(op.f("ix_kept_messages_answered_at_id"), table_name="kept_messages")
    op.drop_table("kept_messages")
    op.drop_index(op.f("ix_person_inbox_channel_channel_key_id"), table_name="person_inbox")
    op.drop_table("person_inbox")
