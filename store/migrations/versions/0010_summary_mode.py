"""summary mode: summaries (one per pair, kind, store, currency, day) and their entries

Revision ID: 0010_summary_mode
Revises: 0009_pairs
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_summary_mode'
down_revision = '0009_pairs'
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
MONEY = sa.Numeric(18, 2)


def upgrade() -> None:
    op.create_table('summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pair', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('store', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('customer_code', sa.String(length=64), nullable=True),
    sa.Column('net', MONEY, nullable=True),
    sa.Column('vat', MONEY, nullable=True),
    sa.Column('gross', MONEY, nullable=True),
    sa.Column('lines', sa.JSON(), nullable=True),
    sa.Column('payments', sa.JSON(), nullable=True),
    sa.Column('post_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_task', sa.String(length=64), nullable=True),
    sa.Column('lease_until', WHEN, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('closed_at', WHEN, nullable=True),
    sa.Column('posted_at', WHEN, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair', 'kind', 'store', 'currency', 'day', name='uq_summary_period')
    )
    op.create_index('ix_summary_state_day', 'summaries', ['state', 'day'], unique=False)
    op.create_table('summary_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('summary_id', sa.Integer(), nullable=False),
    sa.Column('pair', sa.String(length=32), nullable=False),
    sa.Column('doc_kind', sa.String(length=16), nullable=False),
    sa.Column('magento_key', sa.String(length=64), nullable=False),
    sa.Column('magento_ref', sa.String(length=64), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('doc_day', sa.Date(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('net', MONEY, nullable=False),
    sa.Column('vat', MONEY, nullable=False),
    sa.Column('gross', MONEY, nullable=False),
    sa.Column('part', sa.JSON(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['sync_jobs.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['summary_id'], ['summaries.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pair', 'doc_kind', 'magento_key', name='uq_summary_entry_doc')
    )
    op.create_index('ix_summary_entry_summary', 'summary_entries', ['summary_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_summary_entry_summary', table_name='summary_entries')
    op.drop_table('summary_entries')
    op.drop_index('ix_summary_state_day', table_name='summaries')
    op.drop_table('summaries')
