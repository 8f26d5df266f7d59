"""The shortest interval each source's server asks for, kept for burst mode; WebSub times
with their time zone on PostgreSQL, as every other table's

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


WEBSUB_TIMES = (
    ("renew_at", True),
    ("requested_at", True),
    ("retry_at", True),
    ("verified_at", True),
    ("last_delivery_at", True),
    ("created_at", False),
)


def upgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("server_floor", sa.Float(), nullable=True))
    _websub_times(timezone=True)


def downgrade() -> None:
    _websub_times(timezone=False)
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("server_floor")


def _websub_times(*, timezone: bool) -> None:
    """SQLite keeps no time zones; PostgreSQL's were written as UTC."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, nullable in WEBSUB_TIMES:
        op.alter_column(
            "websubscription",
            name,
            type_=sa.DateTime(timezone=timezone),
            existing_type=sa.DateTime(timezone=not timezone),
            existing_nullable=nullable,
            postgresql_using=f"{name} AT TIME ZONE 'UTC'",
        )
