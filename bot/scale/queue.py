"""The job queue of scaled mode, on procrastinate: one `refresh_source` job per due source.

The schedule of record stays `Source.next_check_at`. A deferrer (`defer_due`, run by every
worker, one at a time thanks to an advisory lock) leases the due sources, by moving their
`next_check_at` a little into the future, and queues a job for each. A job carries
`queueing_lock="source-<id>"`, so a source is never queued twice, and `lock="source-<id>"`,
so two workers never refresh it at once. The job's own poll then writes the real next check.
If a job is lost anyway (its worker died before it ran, or the database went away), the
lease runs out and the source is queued again.

Jobs of a worker that died in the middle (kill -9, a lost machine) stay "doing" in
procrastinate's table; `recover_stalled` finds them by the worker's missing heartbeat and
queues them again.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job, Status
from procrastinate.schema import SchemaManager
from sqlalchemy import String, Update, cast, column, literal, literal_column, table, text, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.scale.pg import conninfo
from bot.storage.models import Source
from bot.storage.sources_rows import due_first

log = logging.getLogger(__name__)

QUEUE = "sources"
TASK_NAME = "refresh_source"
PUSH_TASK = "ingest_pushed"
SCHEMA_LOCK = 0x5357_5153  # advisory lock keys: "SWQS", "SWDF"
DEFERRER_LOCK = 0x5357_4446
DEFER_BATCH = 1000  # sources leased and queued per deferrer pass
SOURCE_LEASE = timedelta(seconds=120)

RefreshHandler = Callable[[int, Job], Awaitable[str]]
PushHandler = Callable[[int, bytes, str], Awaitable[str]]


def source_lock(source_id: int) -> str:
    return f"source-{source_id}"


async def refresh_source(context: JobContext, source_id: int) -> str:
    """The job: refresh one source. The worker process hands in what runs it."""
    handler: RefreshHandler = context.additional_context["refresh"]
    return await handler(source_id, context.job)


async def ingest_pushed(context: JobContext, source_id: int, body: str, content_type: str) -> str:
    """The job: read a WebSub delivery the bot role accepted (body in base64)."""
    handler: PushHandler = context.additional_context["pushed"]
    return await handler(source_id, base64.b64decode(body), content_type)


async def queue_pushed(
    app: procrastinate.App, source_id: int, body: bytes, content_type: str
) -> None:
    """Queue a delivery; it runs under the source's lock, never beside a refresh of it."""
    task = app.tasks[PUSH_TASK].configure(lock=source_lock(source_id))
    await task.defer_async(
        source_id=source_id, body=base64.b64encode(body).decode(), content_type=content_type
    )


def make_app(database_url: str, *, pool_size: int = 4) -> procrastinate.App:
    """A procrastinate App on DATABASE_URL with the refresh task registered."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        min_size=1,
        max_size=pool_size,
        kwargs={"connect_timeout": 5},
    )
    app = procrastinate.App(connector=connector)
    app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)(refresh_source)
    app.task(name=PUSH_TASK, queue=QUEUE, pass_context=True)(ingest_pushed)
    return app


def ensure_queue_schema(engine: Engine) -> bool:
    """Create procrastinate's tables and functions if the database has none yet; True if it
    did. Safe when several processes start at once."""
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        found = connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
        if found is not None:
            return False
        # Many statements in one string: psycopg runs them with the simple query protocol.
        driver: Any = connection.connection.driver_connection
        driver.execute(SchemaManager.get_schema())
    log.info("created the job queue's tables")
    return True


# Procrastinate's jobs, only as far as the deferrer reads them.
_JOBS = table("procrastinate_jobs", column("status"), column("lock"))


def _lease_due(now: datetime, until: datetime, limit: int) -> Update:
    """Move the next check of due sources without a queued or running job to `until`.

    `NOT IN` over the queued and running locks: one hashed set, whatever the planner believes
    about the size of the (busy, rarely analyzed) jobs table."""
    busy = select(_JOBS.c.lock).where(
        _JOBS.c.status.in_([literal_column("'todo'"), literal_column("'doing'")]),
        _JOBS.c.lock.is_not(None),
    )
    lock = literal("source-") + cast(col(Source.id), String)
    due = due_first(select(col(Source.id)), now, limit).where(lock.not_in(busy))
    return (
        update(Source)
        # correlate(None): the subquery reads the table afresh, not only the row being updated
        .where(col(Source.next_check_at) <= now, col(Source.id).in_(due.correlate(None)))
        .values(next_check_at=until)
        .returning(col(Source.id))
    )


def lease_due_sources(
    engine: Engine, now: datetime, *, lease: timedelta = SOURCE_LEASE, limit: int = DEFER_BATCH
) -> list[int] | None:
    """Due sources that someone needs and that have no job queued or running, with their
    next check moved to `now + lease`; None if another deferrer is at work right now."""
    with engine.begin() as connection:
        got = connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": DEFERRER_LOCK}
        ).scalar()
        if not got:
            return None
        rows = connection.execute(_lease_due(now, now + lease, limit))
        return sorted(int(source_id) for source_id in rows.scalars())


def refresh_job(app: procrastinate.App, source_id: int) -> Job:
    task = app.tasks[TASK_NAME]
    lock = source_lock(source_id)
    return task.configure(lock=lock, queueing_lock=lock).make_new_job(source_id=source_id)


async def queue_refreshes(app: procrastinate.App, source_ids: list[int]) -> int:
    """Queue a refresh job per source; a source that already has one waiting is skipped."""
    if not source_ids:
        return 0
    jobs = [refresh_job(app, source_id) for source_id in source_ids]
    try:
        await app.job_manager.batch_defer_jobs_async(jobs)
        return len(jobs)
    except queue_errors.AlreadyEnqueued:
        pass  # someone queued one of them meanwhile: go one by one
    queued = 0
    for job in jobs:
        try:
            await app.job_manager.defer_job_async(job)
            queued += 1
        except queue_errors.AlreadyEnqueued:
            continue
    return queued


async def recover_stalled(app: procrastinate.App, *, stalled_after: float) -> int:
    """Queue again the jobs of workers silent for `stalled_after` seconds (dead ones), and
    forget those workers. Returns the number of jobs put back."""
    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(
        queue=QUEUE, task_name=TASK_NAME, seconds_since_heartbeat=stalled_after
    )
    recovered = 0
    for job in stalled:
        try:
            await manager.retry_job(job)
            recovered += 1
            log.warning(
                "job %s of a worker that stopped answering is queued again", job.call_string
            )
        except queue_errors.ConnectorException:
            # Another worker put it back first (fine), or its source has a job waiting
            # already: then the old one, still with the dead worker, just ends.
            found = list(await manager.list_jobs_async(id=job.id))
            if (
                found
                and found[0].status == Status.DOING.value
                and found[0].worker_id == job.worker_id
            ):
                with contextlib.suppress(queue_errors.ConnectorException):
                    await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
    await manager.prune_stalled_workers(stalled_after)
    return recovered
