"""stock sync: baselines, invoice ledger, runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

QTY = sa.Numeric(18, 4)


def upgrade() -> None:
    op.create_table('stock_baselines',
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('agreed_qty', QTY, nullable=False),
    sa.Column('kashflow_qty', QTY, nullable=False),
    sa.Column('magento_qty', QTY, nullable=False),
    sa.Column('invoiced_qty', QTY, nullable=False),
    sa.Column('last_written_kashflow', QTY, nullable=True),
    sa.Column('last_written_magento', QTY, nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sku')
    )
    op.create_table('stock_invoiced',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('qty', QTY, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['sync_jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'sku')
    )
    op.create_index('ix_stock_invoiced_sku', 'stock_invoiced', ['sku'], unique=False)
    op.create_table('stock_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('conflicts', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('kashflow_calls', sa.Integer(), nullable=False),
    sa.Column('magento_calls', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('stock_runs')
    op.drop_index('ix_stock_invoiced_sku', table_name='stock_invoiced')
    op.drop_table('stock_invoiced')
    op.drop_table('stock_baselines')
