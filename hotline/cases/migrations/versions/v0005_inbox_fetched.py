"""When a web person's page first fetched an inbox message: the retention purge deletes the messages fetched
longer ago than RETENTION_DAYS (the page keeps its own copy); one not fetched yet waits for the person.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Written by hand: one nullable column, a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL alike (the rows
already there count as not fetched: they are deleted with their person once that person has been idle too long).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("person_inbox", sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("person_inbox") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("fetched_at")
