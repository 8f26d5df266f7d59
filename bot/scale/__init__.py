"""Scaled mode: one bot process and any number of worker processes on one PostgreSQL database.

`summit-watch run --role bot` runs Telegram updates, the sender, the story editor, digests and
housekeeping, but polls nothing. `summit-watch run --role worker` refreshes sources: each due
source becomes one procrastinate job (`queue.refresh_source`), and the worker that takes it
runs the usual pipeline (fetch, parse, extract, dedup, match, outbox rows). Workers tell the
bot about new outbox rows with `NOTIFY summit_outbox` (`notify`), and keep `FETCH_PER_HOST`
across all of them with advisory-lock host slots (`hosts`).
"""
