"""Persistence: SQLModel tables, repositories that map rows to domain objects, and migrations.

Services receive repositories (built on a session from :func:`vpp.db.engine.session_scope`) and
never see a row; the schema is created and evolved only by the Alembic migrations in
``vpp/db/migrations`` (:func:`vpp.db.migrate.upgrade`), never by ``create_all``.
"""
