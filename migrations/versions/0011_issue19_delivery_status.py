"""notification delivery status, the address sent to and the provider's reference

Revision ID: 0009_issue19_delivery
Revises: 0008_tally_registrations
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_issue19_delivery'
down_revision = '0009_issue25_tally_politics'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('queued', 'retrying', 'sent', 'failed', name='deliverystatus', native_enum=False, length=10), server_default='queued', nullable=False))
        batch_op.add_column(sa.Column('sent_to', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('provider_ref', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_notifications_sent_to', ['sent_to', 'sent_at'], unique=False)
    # Rows from before: sent, given up after eight tries, waiting for a retry, or new.
    op.execute("UPDATE notifications SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.execute(
        "UPDATE notifications SET status = 'failed' WHERE sent_at IS NULL AND attempts >= 8"
    )
    op.execute(
        "UPDATE notifications SET status = 'retrying' "
        "WHERE sent_at IS NULL AND attempts > 0 AND attempts < 8"
    )


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_sent_to')
        batch_op.drop_column('provider_ref')
        batch_op.drop_column('sent_to')
        batch_op.drop_column('status')
