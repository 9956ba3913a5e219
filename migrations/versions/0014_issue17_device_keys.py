"""device keys (offline volunteer codes) and code uses

Revision ID: 0009_issue17_device_keys
Revises: 0008_tally_registrations
Create Date: 2026-12-05 10:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_issue17_device_keys'
down_revision = '0009_issue22_temp_items'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('device_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_device_keys_revoked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_device_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_keys'))
    )
    with op.batch_alter_table('device_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_keys_user_id'), ['user_id'], unique=False)

    op.create_table('code_uses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device_keys.id'], name=op.f('fk_code_uses_device_id_device_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shift_id'], ['shifts.id'], name=op.f('fk_code_uses_shift_id_shifts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_uses'))
    )
    with op.batch_alter_table('code_uses', schema=None) as batch_op:
        batch_op.create_index('uq_code_uses_device_step_shift', ['device_id', 'step', 'shift_id'], unique=True)


def downgrade():
    with op.batch_alter_table('code_uses', schema=None) as batch_op:
        batch_op.drop_index('uq_code_uses_device_step_shift')
    op.drop_table('code_uses')
    with op.batch_alter_table('device_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_keys_user_id'))
    op.drop_table('device_keys')
