"""The lawyer desk's tests use the case store's real databases (SQLite and PostgreSQL, tests/cases/conftest.py)."""

from tests.cases.conftest import db_url, engine, postgres_url, store

__all__ = ["db_url", "engine", "postgres_url", "store"]
