"""Revisions of the marketplace schema, oldest first."""
