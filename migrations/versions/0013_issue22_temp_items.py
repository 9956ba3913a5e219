"""per-user temporary state in the database (import previews)

Revision ID: 0009_issue22_temp_items
Revises: 0008_tally_registrations
Create Date: 2026-11-28 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_issue22_temp_items'
down_revision = '0009_issue18_national_record'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('temp_items',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_temp_items_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_temp_items'))
    )
    with op.batch_alter_table('temp_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_temp_items_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_temp_items_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('temp_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_temp_items_user_id'))
        batch_op.drop_index(batch_op.f('ix_temp_items_expires_at'))

    op.drop_table('temp_items')
