"""announced meetings, calendar subscriptions, topics that end

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("precision", sa.String(), nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("participants", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("best_outlet", sa.String(), nullable=False),
        sa.Column("outlets", sa.Text(), nullable=False),
        sa.Column("stories", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_from", sa.Date(), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_event_topic_id", "event", ["topic_id"])
    op.create_index("ix_event_chat_id", "event", ["chat_id"])
    op.create_index("ix_event_start", "event", ["start"])
    op.create_table(
        "calendarfeed",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id"),
    )
    op.create_index("ix_calendarfeed_secret", "calendarfeed", ["secret"], unique=True)
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("until_event", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("wrapup_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.drop_column("wrapup_sent")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("until_event")
        batch_op.drop_column("ends_on")
    op.drop_index("ix_calendarfeed_secret", table_name="calendarfeed")
    op.drop_table("calendarfeed")
    op.drop_index("ix_event_start", table_name="event")
    op.drop_index("ix_event_chat_id", table_name="event")
    op.drop_index("ix_event_topic_id", table_name="event")
    op.drop_table("event")
