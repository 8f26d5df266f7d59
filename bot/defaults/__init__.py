"""Data files shipped with the bot: alias sets and starter topics (see `bot.config.data_file`
for how a deployment replaces them)."""

from pathlib import Path

ALIASES = Path(__file__).resolve().parent / "aliases.toml"
STARTER_TOPICS = Path(__file__).resolve().parent / "starter_topics.toml"
