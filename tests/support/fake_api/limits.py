"""Sending rules: blocks, injected failures, 429 penalties and flood-limit windows."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection

from tests.support.fake_api.records import (
    FAILURE_KINDS,
    NOT_MODIFIED,
    ApiError,
    BadGateway,
    Failure,
    bad_request,
)
from tests.support.fake_api.state import FakeState


class SendingRules(FakeState):
    """What decides whether a send or edit to a chat goes through."""

    def fail_next(
        self,
        chat_id: int,
        *,
        kind: str,
        times: int = 1,
        retry_after: int = 1,
        new_chat_id: int | None = None,
        methods: Collection[str] | None = None,
    ) -> None:
        """Make the next `times` send*/edit* calls for `chat_id` fail with `kind`.

        Kinds: retry_after (429 + parameters.retry_after), blocked, kicked, deactivated (403),
        migrate (400 + parameters.migrate_to_chat_id, needs new_chat_id), server (500),
        bad_gateway (502 with an HTML body, as nginx sends), not_modified, cant_edit,
        chat_not_found (400). `methods` restricts which methods consume the failure.
        `times=0` cancels the failures of `kind` still pending for `chat_id`.
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(FAILURE_KINDS)}")
        if kind == "migrate" and new_chat_id is None:
            raise ValueError('kind="migrate" needs new_chat_id')
        if times < 0:
            raise ValueError("times must not be negative")
        with self._cond:
            if times == 0:
                pending = self._failures.get(chat_id, deque())
                self._failures[chat_id] = deque(f for f in pending if f.kind != kind)
                return
            self._failures.setdefault(chat_id, deque()).append(
                Failure(
                    kind=kind,
                    remaining=times,
                    retry_after=retry_after,
                    new_chat_id=new_chat_id,
                    methods=frozenset(methods) if methods is not None else None,
                )
            )

    def block(self, chat_id: int) -> None:
        """Every send/edit to `chat_id` gets Telegram's 403 until `unblock`."""
        with self._cond:
            self._ensure_chat(chat_id, None)
            self._forbidden[chat_id] = self._forbidden_description(chat_id, "kicked")

    def unblock(self, chat_id: int) -> None:
        with self._cond:
            self._forbidden.pop(chat_id, None)

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: calls with the old id get 400 migrate_to_chat_id."""
        with self._cond:
            old = self._ensure_chat(old_chat_id, None)
            new = self._ensure_chat(new_chat_id, "supergroup")
            if "title" in old:
                new.setdefault("title", old["title"])
            self._migrated[old_chat_id] = new_chat_id

    def _check_deliverable(self, chat_id: int, method: str) -> None:
        """Blocks, injected failures and flood limits, in that order (lock held)."""
        if chat_id in self._forbidden:
            raise ApiError(403, self._forbidden[chat_id])
        if method != "sendChatAction":
            self._refuse_during_penalty(chat_id, method)
        try:
            self._apply_injected(chat_id, method)
        except ApiError as exc:
            if exc.status == 429:
                self._penalize(chat_id, exc)
            raise
        if method.startswith("send") and method != "sendChatAction":
            self._apply_rate_limits(chat_id)

    def _refuse_during_penalty(self, chat_id: int, method: str) -> None:
        now = self.clock()
        until = max(self._chat_penalty.get(chat_id, float("-inf")), self._global_penalty)
        if now < until:
            self._penalty_sends.append((chat_id, method))
            retry_after = max(1, math.ceil(until - now))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _penalize(self, chat_id: int | None, error: ApiError) -> None:
        """Start the penalty a 429 announces: for `chat_id`, or for all chats when None."""
        until = self.clock() + float((error.parameters or {}).get("retry_after", 1))
        if chat_id is None:
            self._global_penalty = max(self._global_penalty, until)
        else:
            self._chat_penalty[chat_id] = max(self._chat_penalty.get(chat_id, until), until)

    def _apply_injected(self, chat_id: int, method: str) -> None:
        queue = self._failures.get(chat_id)
        if not queue:
            return
        for failure in list(queue):
            if failure.methods is not None:
                if method not in failure.methods:
                    continue
            elif method == "sendChatAction" or not method.startswith(("send", "edit")):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.remove(failure)
            raise self._failure_error(chat_id, failure)

    def _failure_error(self, chat_id: int, failure: Failure) -> Exception:
        kind = failure.kind
        if kind == "retry_after":
            return ApiError(
                429,
                f"Too Many Requests: retry after {failure.retry_after}",
                {"retry_after": failure.retry_after},
            )
        if kind == "blocked":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "kicked":
            chat_type = self._chats.get(chat_id, {}).get("type")
            place = "supergroup" if chat_type == "supergroup" else "group"
            return ApiError(403, f"Forbidden: bot was kicked from the {place} chat")
        if kind == "deactivated":
            return ApiError(403, "Forbidden: user is deactivated")
        if kind == "migrate":
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": failure.new_chat_id},
            )
        if kind == "server":
            return ApiError(500, "Internal Server Error")
        if kind == "bad_gateway":
            return BadGateway()
        if kind == "not_modified":
            return ApiError(400, NOT_MODIFIED)
        if kind == "cant_edit":
            return bad_request("message can't be edited")
        return bad_request("chat not found")

    def _apply_rate_limits(self, chat_id: int) -> None:
        now = self.clock()
        windows: list[tuple[deque[float], int, float]] = []
        if self.rate_limit is not None:
            limit, period = self.rate_limit
            windows.append((self._send_times, limit, period))
        if self.enforce_chat_limits:
            chat_type = self._chats.get(chat_id, {}).get("type", "private")
            limit, period = (1, 1.0) if chat_type == "private" else (20, 60.0)
            windows.append((self._chat_send_times.setdefault(chat_id, deque()), limit, period))
        for times, limit, period in windows:
            while times and times[0] <= now - period:
                times.popleft()
            if len(times) >= limit:
                wait = times[0] + period - now
                retry_after = max(1, math.ceil(wait))
                error = ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
                self._penalize(None if times is self._send_times else chat_id, error)
                raise error
        for times, _, _ in windows:
            times.append(now)
