"""Reaching the person and the lawyer's copy of an offer: people.reply_address, case_offers.message_ref, and an
index on cases.person_id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-09

Written by hand. Both columns are nullable, so adding them is a plain ALTER TABLE on SQLite and PostgreSQL alike
and rows written before this revision stay valid (a person without an address simply cannot be written to
first).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The Telegram chat id as text; never a phone number or a name (see models.Person).
    op.add_column("people", sa.Column("reply_address", sa.String(64), nullable=True))
    op.add_column("case_offers", sa.Column("message_ref", sa.String(32), nullable=True))
    op.create_index(op.f("ix_cases_person_id"), "cases", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_person_id"), table_name="cases")
    # A plain ALTER TABLE ... DROP COLUMN on both databases (SQLite has it since 3.35 for a column no index or
    # constraint uses). Not batch mode: on SQLite that recreates the table, and dropping `people` to rename the
    # copy fails on the foreign keys that point at it.
    op.drop_column("case_offers", "message_ref")
    op.drop_column("people", "reply_address")
