"""The migrations build exactly the schema the models describe (SQLite and PostgreSQL): a
model changed without its migration, or a migration edited by mistake, shows as a difference."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import store.account_models
import store.mapping_models
import store.pair_models
import store.reconcile_models
import store.stock_models
import store.summary_models
from store.models import Base

MODEL_MODULES = (store.account_models, store.mapping_models, store.pair_models,
                 store.reconcile_models,
                 store.stock_models, store.summary_models)  # each adds its tables to Base.metadata


def test_the_migrated_schema_is_the_models_schema(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
