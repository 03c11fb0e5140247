"""Alembic migrations of the case store (run them with `hotline db upgrade` or hotline.cases.db.upgrade)."""
