"""dispatch heartbeat: the stall sweep spares a batch a live worker is still sending

Revision ID: 5b1e0c9d2a41
Revises: 347894f9f96c
Create Date: 2026-11-23 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import service.db
from alembic import op

revision: str = "5b1e0c9d2a41"
down_revision: str | None = "347894f9f96c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.add_column(
            sa.Column("heartbeat_at", service.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.drop_column("heartbeat_at")
