"""Alembic environment for the clinic database, run from inside the app (never from an alembic.ini).

`app.store.database.Database.migrate` opens the keyed SQLCipher connection, starts the transaction and hands the
connection over in `config.attributes["connection"]`; this file only points Alembic at the models. Batch mode is on
because SQLite can change a table only by copying it, and Alembic's batch operations do that copy correctly.
"""

from __future__ import annotations

from alembic import context

from app.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through app.store.database.Database.migrate (it supplies the keyed connection)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
