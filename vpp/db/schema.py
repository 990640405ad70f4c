"""The complete schema: every table module imported, so their tables share one metadata.

Alembic's environment and the schema-comparison tests import ``metadata`` from here; importing
``vpp.db.tables`` alone would miss the tables other modules (API keys, outages) register.
"""

from vpp.db import auth_tables, job_tables, live_tables, metering_tables, tables
from vpp.db.tables import metadata

__all__ = [
    "auth_tables",
    "job_tables",
    "live_tables",
    "metadata",
    "metering_tables",
    "tables",
]
