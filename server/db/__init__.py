"""The database layer: tables, engine and sessions, migrations, and every query the service makes (`crud`)."""
