"""Alembic environment: runs online against the URL set by ``store.db.alembic_config``."""

from alembic import context
from sqlalchemy import create_engine, pool

from store.models import Base

config = context.config
connectable = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
