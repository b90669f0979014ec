"""payment reconciliation items

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 2)


def upgrade() -> None:
    op.create_table('reconciliation_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('order_key', sa.String(length=64), nullable=False),
    sa.Column('order_ref', sa.String(length=64), nullable=True),
    sa.Column('payment_method', sa.String(length=64), nullable=True),
    sa.Column('txn_id', sa.String(length=128), nullable=True),
    sa.Column('invoice_number', sa.Integer(), nullable=True),
    sa.Column('magento_amount', MONEY, nullable=True),
    sa.Column('kashflow_amount', MONEY, nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    op.create_index('ix_recon_status_day', 'reconciliation_items', ['status', 'day'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_recon_status_day', table_name='reconciliation_items')
    op.drop_table('reconciliation_items')
