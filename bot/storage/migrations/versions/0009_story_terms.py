"""story term centroids, follow-up counts and the term index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("story", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terms", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("terms_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("updates", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "storyterm",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("story_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("term", "story_id"),
    )
    with op.batch_alter_table("storyterm", schema=None) as batch_op:
        batch_op.create_index("ix_storyterm_term_seen", ["term", "seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_storyterm_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("storyterm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storyterm_seen_at"))
        batch_op.drop_index("ix_storyterm_term_seen")
    op.drop_table("storyterm")
    with op.batch_alter_table("story", schema=None) as batch_op:
        batch_op.drop_column("updates")
        batch_op.drop_column("terms_at")
        batch_op.drop_column("terms")
