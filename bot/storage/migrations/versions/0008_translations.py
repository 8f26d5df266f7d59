"""translated alerts: each chat's choice, and translations shared between chats

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("translate", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("translate_to", sa.String(), nullable=True))
    op.create_table(
        "translation",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("target", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "target"),
    )
    op.create_index("ix_translation_created_at", "translation", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_translation_created_at", table_name="translation")
    op.drop_table("translation")
    with op.batch_alter_table("chat", schema=None) as batch_op:
        batch_op.drop_column("translate_to")
        batch_op.drop_column("translate")
