"""Vereda's central service: enrollment, feedback intake, model registry and distribution, cloud predict.

FastAPI over SQLAlchemy 2 (SQLite or PostgreSQL), started by `vereda-server`. It shares `app.core` (contract and
engine) with the desktop app and imports nothing else of it; it keeps no state outside its database, so several
processes or replicas can serve one PostgreSQL database.
"""
