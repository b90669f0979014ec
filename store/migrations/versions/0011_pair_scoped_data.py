"""integration pairs: the pair of stock baselines and runs, catalogue items and
reconciliation items (each pair's KashFlow company has its own products and stock)

Revision ID: 0011_pair_scoped_data
Revises: 0010_summary_mode
Create Date: 2026-12-06
"""

import warnings

from alembic import op
import sqlalchemy as sa


revision = '0011_pair_scoped_data'
down_revision = '0010_summary_mode'
branch_labels = None
depends_on = None


def _pair_column() -> sa.Column:
    return sa.Column('pair', sa.String(length=32), server_default='default', nullable=False)


def _rekey(table: str, columns: list[str]) -> None:
    """Add ``pair`` to ``table`` and make it the first column of its primary key."""
    with op.batch_alter_table(table, recreate='always') as batch:
        batch.add_column(_pair_column())
    with warnings.catch_warnings():  # SQLite's copy: "pk columns not matching" (intended)
        warnings.simplefilter('ignore', sa.exc.SAWarning)
        with op.batch_alter_table(table, recreate='always') as batch:
            if op.get_bind().dialect.name != 'sqlite':
                batch.drop_constraint(f'{table}_pkey', type_='primary')
            batch.create_primary_key(f'{table}_pkey', columns)


def _unkey(table: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, recreate='always') as batch:
        if op.get_bind().dialect.name != 'sqlite':
            batch.drop_constraint(f'{table}_pkey', type_='primary')
        batch.drop_column('pair')
    with op.batch_alter_table(table, recreate='always') as batch:
        batch.create_primary_key(f'{table}_pkey', columns)


def upgrade() -> None:
    _rekey('stock_baselines', ['pair', 'sku'])
    _rekey('catalogue_items', ['pair', 'kind', 'key'])
    for table in ('stock_runs', 'reconciliation_items'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_pair_column())


def downgrade() -> None:
    for table in ('reconciliation_items', 'stock_runs'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('pair')
    _unkey('catalogue_items', ['kind', 'key'])
    _unkey('stock_baselines', ['sku'])
