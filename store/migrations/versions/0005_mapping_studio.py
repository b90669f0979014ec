"""mapping studio: profile versions, draft, suggestions, aliases, catalogue, seen values

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    _versions_and_draft()
    _suggestions_catalogue_and_seen()


def _versions_and_draft() -> None:
    op.create_table('mapping_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('rollback_of', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('mapping_draft',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('updated_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def _suggestions_catalogue_and_seen() -> None:
    op.create_table('mapping_suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=128), nullable=False),
    sa.Column('source_label', sa.Text(), nullable=True),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('chosen', sa.String(length=128), nullable=True),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', WHEN, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'source_key', name='uq_suggestion_kind_key')
    )
    op.create_index('ix_suggestion_status', 'mapping_suggestions', ['status'], unique=False)
    op.create_table('mapping_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('alias', sa.String(length=255), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=False),
    sa.Column('learned_from', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'alias', name='uq_alias_kind_alias')
    )
    op.create_table('catalogue_items',
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('refreshed_at', WHEN, nullable=False),
    sa.Column('missing_since', WHEN, nullable=True),
    sa.PrimaryKeyConstraint('kind', 'key')
    )
    op.create_table('seen_values',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_seen', WHEN, nullable=False),
    sa.Column('last_seen', WHEN, nullable=False),
    sa.Column('last_ref', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('kind', 'key')
    )
    with op.batch_alter_table('sync_jobs') as batch:
        batch.add_column(sa.Column('profile_version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('dup_key', sa.String(length=64), nullable=True))
        batch.create_index('ix_job_dup_key', ['dup_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_jobs') as batch:
        batch.drop_index('ix_job_dup_key')
        batch.drop_column('dup_key')
        batch.drop_column('profile_version')
    op.drop_table('seen_values')
    op.drop_table('catalogue_items')
    op.drop_table('mapping_aliases')
    op.drop_index('ix_suggestion_status', table_name='mapping_suggestions')
    op.drop_table('mapping_suggestions')
    op.drop_table('mapping_draft')
    op.drop_table('mapping_versions')
