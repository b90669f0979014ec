"""integration pairs: the pairs table; the pair of every event, job and link

Revision ID: 0009_pairs
Revises: 0007_settlement_payouts
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = '0009_pairs'
down_revision = '0007_settlement_payouts'
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _pair_column() -> sa.Column:
    return sa.Column('pair', sa.String(length=32), server_default='default', nullable=False)


def upgrade() -> None:
    op.create_table('integration_pairs',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('secrets', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.Column('disabled_at', WHEN, nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('inbound_events') as batch:
        batch.add_column(_pair_column())
    with op.batch_alter_table('sync_jobs') as batch:
        batch.add_column(_pair_column())
        batch.drop_constraint('uq_job_kind_key', type_='unique')
        batch.create_unique_constraint('uq_job_pair_kind_key', ['pair', 'kind', 'magento_key'])
    with op.batch_alter_table('entity_links') as batch:
        batch.add_column(_pair_column())
        batch.drop_constraint('uq_link_kind_magento', type_='unique')
        batch.create_unique_constraint('uq_link_pair_kind_magento',
                                       ['pair', 'kind', 'magento_key'])


def downgrade() -> None:
    with op.batch_alter_table('entity_links') as batch:
        batch.drop_constraint('uq_link_pair_kind_magento', type_='unique')
        batch.create_unique_constraint('uq_link_kind_magento', ['kind', 'magento_key'])
        batch.drop_column('pair')
    with op.batch_alter_table('sync_jobs') as batch:
        batch.drop_constraint('uq_job_pair_kind_key', type_='unique')
        batch.create_unique_constraint('uq_job_kind_key', ['kind', 'magento_key'])
        batch.drop_column('pair')
    with op.batch_alter_table('inbound_events') as batch:
        batch.drop_column('pair')
    op.drop_table('integration_pairs')
