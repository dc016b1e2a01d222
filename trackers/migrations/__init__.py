"""Alembic migrations of the store's schema (one revision per schema version)."""
