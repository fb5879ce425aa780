"""Alembic migrations of the marketplace database (applied at start-up)."""
