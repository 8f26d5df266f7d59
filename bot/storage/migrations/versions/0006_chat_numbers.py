"""topic and source numbers counted per chat

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    with op.batch_alter_table("chatsource", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    connection = op.get_bind()
    # Existing rows are numbered 1, 2, 3 … in each chat, in the order they were added.
    counters: dict[int, int] = {}
    topics = connection.execute(sa.text("SELECT id, chat_id FROM topic ORDER BY chat_id, id"))
    for topic_id, chat_id in topics.fetchall():
        counters[chat_id] = counters.get(chat_id, 0) + 1
        connection.execute(
            sa.text("UPDATE topic SET number = :n WHERE id = :id"),
            {"n": counters[chat_id], "id": topic_id},
        )
    counters.clear()
    links = connection.execute(
        sa.text("SELECT chat_id, source_id FROM chatsource ORDER BY chat_id, source_id")
    )
    for chat_id, source_id in links.fetchall():
        counters[chat_id] = counters.get(chat_id, 0) + 1
        connection.execute(
            sa.text(
                "UPDATE chatsource SET number = :n WHERE chat_id = :chat AND source_id = :source"
            ),
            {"n": counters[chat_id], "chat": chat_id, "source": source_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("chatsource", schema=None) as batch_op:
        batch_op.drop_column("number")
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.drop_column("number")
