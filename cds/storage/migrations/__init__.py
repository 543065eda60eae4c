"""Alembic migrations; kept inside the package so an installed service can migrate itself."""
