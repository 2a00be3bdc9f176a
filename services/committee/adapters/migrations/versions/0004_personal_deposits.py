"""personal data deposited over HTTPS for appointments sent over Kafka

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 15:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('personal_deposits',
                    sa.Column('ref', sa.String(length=100), nullable=False),
                    sa.Column('committee_id', sa.String(length=100), nullable=False),
                    sa.Column('member_id', sa.String(length=100), nullable=False),
                    sa.Column('sealed', sa.Text(), nullable=False),
                    sa.Column('expires_at', sa.String(length=40), nullable=False),
                    sa.PrimaryKeyConstraint('ref'))
    op.create_index(op.f('ix_personal_deposits_member_id'), 'personal_deposits',
                    ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_personal_deposits_member_id'), table_name='personal_deposits')
    op.drop_table('personal_deposits')
