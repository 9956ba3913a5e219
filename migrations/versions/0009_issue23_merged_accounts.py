"""merged accounts; stored phone numbers in their normal form (issue 23)

Revision ID: 0009_issue23_merged_accounts
Revises: 0008_tally_registrations
Create Date: 2026-11-28 10:00:00.000000

"""
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_issue23_merged_accounts'
down_revision = '0008_tally_registrations'
branch_labels = None
depends_on = None


def _phone(raw):
    """As services.identifiers.phone (kept here so that the migration does not change when
    the app does): NFKC, no spaces, dashes, brackets or invisible characters, no +86."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = "".join(
        c
        for c in text
        if not (c.isspace() or c in "()\u2212\u2796" or unicodedata.category(c) in ("Pd", "Cf"))
    )
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086") and len(text) == 15:
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_users_merged_into_id_users'),
            'users',
            ['merged_into_id'],
            ['id'],
            ondelete='SET NULL',
        )

    # Numbers typed with full-width digits or separators by the old code: stored in their
    # normal form, unless that number already belongs to another account (then the two
    # accounts are listed by `flask people duplicates` for an administrator to merge).
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT id, phone FROM users")).all()
    taken = {phone for _id, phone in users}
    for user_id, phone in users:
        normal = _phone(phone)
        if normal != phone and normal.isascii() and normal not in taken:
            bind.execute(
                sa.text("UPDATE users SET phone = :p WHERE id = :i"), {"p": normal, "i": user_id}
            )
            taken.discard(phone)
            taken.add(normal)
    for column in ("emergency_phone", "guardian_phone"):
        rows = bind.execute(
            sa.text(f"SELECT user_id, {column} FROM volunteer_profiles WHERE {column} IS NOT NULL")  # noqa: S608
        ).all()
        for user_id, phone in rows:
            normal = _phone(phone)
            if normal != phone and normal.isascii():
                bind.execute(
                    sa.text(f"UPDATE volunteer_profiles SET {column} = :p WHERE user_id = :i"),  # noqa: S608
                    {"p": normal, "i": user_id},
                )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_merged_into_id_users'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
