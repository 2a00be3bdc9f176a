"""person keys wrapped by a key-encryption key (KEK)

`person_keys.key` (a plain AES-256 key) becomes `wrapped_key` (nonce ‖ key ‖ tag,
AES-256-GCM under a KEK from the secret file, never from the database) with the
`kek_id` it is wrapped under. The migration has no KEK: existing rows keep their
plain key with `kek_id` NULL, and the committee service wraps them when it starts
(services/committee/app/keys.py, `wrap_plain_keys`) before it takes a command.

Downgrade only where no key is wrapped yet: revision 0002's code reads plain keys,
and unwrapping needs the KEK, which a migration does not hold.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 14:40:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('person_keys') as batch:
        batch.alter_column('key', new_column_name='wrapped_key',
                           existing_type=sa.LargeBinary(length=32),
                           type_=sa.LargeBinary(length=60), existing_nullable=False)
        batch.add_column(sa.Column('kek_id', sa.String(length=100), nullable=True))


def downgrade() -> None:
    wrapped = op.get_bind().scalar(sa.text(
        "SELECT count(*) FROM person_keys WHERE kek_id IS NOT NULL"))
    if wrapped:
        raise RuntimeError(f"{wrapped} person keys are wrapped by a KEK: revision 0002 "
                           "would read them as plain keys and open nothing. Restore a "
                           "backup taken before 0003 instead.")
    with op.batch_alter_table('person_keys') as batch:
        batch.drop_column('kek_id')
        batch.alter_column('wrapped_key', new_column_name='key',
                           existing_type=sa.LargeBinary(length=60),
                           type_=sa.LargeBinary(length=32), existing_nullable=False)
