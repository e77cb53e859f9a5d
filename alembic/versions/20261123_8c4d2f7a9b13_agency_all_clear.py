"""agency all-clear texts: an SMS after a Cancel to those who got the warning

Revision ID: 8c4d2f7a9b13
Revises: 5b1e0c9d2a41
Create Date: 2026-11-23 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "8c4d2f7a9b13"
down_revision: str | None = "5b1e0c9d2a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("all_clear", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("all_clear")
