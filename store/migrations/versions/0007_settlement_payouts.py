"""settlement payouts; reconciliation items remember their post attempts

Revision ID: 0007_settlement_payouts
Revises: 0006
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = '0007_settlement_payouts'
down_revision = '0006'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(18, 2)


def upgrade() -> None:
    op.create_table('settlement_payouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('payout_ref', sa.String(length=128), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('gateway_method', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('matched_gross', MONEY, nullable=False),
    sa.Column('unmatched_gross', MONEY, nullable=False),
    sa.Column('fees', MONEY, nullable=False),
    sa.Column('payout_amount', MONEY, nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('format', 'payout_ref', name='uq_payout_format_ref')
    )
    with op.batch_alter_table('reconciliation_items') as batch:
        batch.add_column(sa.Column('post_attempts', sa.Integer(), server_default='0',
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('reconciliation_items') as batch:
        batch.drop_column('post_attempts')
    op.drop_table('settlement_payouts')
