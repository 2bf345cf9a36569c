"""Alembic migrations of the central service's database (run by `server.db.migrate.upgrade`)."""
