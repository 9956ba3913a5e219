"""attendances: the shift's index carries checked_out_at, so the scanner's live counts
(in: no check-out yet; out: checked out) are each a range of one index, read from the
index alone

Revision ID: 0015_issue21_attendance_counts
Revises: 0009_issue17_device_keys
Create Date: 2026-12-06 07:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_issue21_attendance_counts'
down_revision = '0009_issue17_device_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.create_index('ix_attendances_shift_out', ['shift_id', 'checked_out_at'], unique=False)
        batch_op.drop_index('ix_attendances_shift')


def downgrade():
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.create_index('ix_attendances_shift', ['shift_id'], unique=False)
        batch_op.drop_index('ix_attendances_shift_out')
