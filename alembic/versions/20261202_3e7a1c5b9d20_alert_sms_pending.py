"""alert sms_pending: SMS are planned after the broadcasts have left

Revision ID: 3e7a1c5b9d20
Revises: 8c4d2f7a9b13
Create Date: 2026-12-02 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "3e7a1c5b9d20"
down_revision: str | None = "8c4d2f7a9b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("sms_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("sms_pending")
