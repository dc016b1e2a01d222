"""Alembic environment for maintainers' use of the ``alembic`` command on a store.

The store upgrades itself at open (``trackers._migrate``) without going through this file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, engine_from_config, pool

from trackers._schema import metadata

config = context.config

# A caller may hand over its open connection (config.attributes["connection"]).
connectable: Connection | Engine = config.attributes.get("connection") or engine_from_config(
    config.get_section(config.config_ini_section) or {},
    prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
if isinstance(connectable, Engine):
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connectable, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
