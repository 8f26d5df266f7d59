"""Whether polling works, for /healthz: a bot whose every poll fails is not healthy, though
its database and scheduler are."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FAILED_CYCLES = 3  # cycles in a row in which every poll failed
HELPER_DEATHS = 3  # ingest helpers in a row that died before a call succeeded


@dataclass
class PollHealth:
    failed_cycles: int = 0

    def record_cycle(self, statuses: Iterable[str]) -> None:
        """One poll cycle's outcome statuses; a cycle that polled nothing tells nothing."""
        polled = list(statuses)
        if not polled:
            return
        self.failed_cycles = self.failed_cycles + 1 if set(polled) == {"error"} else 0

    def problem(self, helper_deaths: int) -> str | None:
        """What is broken, or None while polling works (some sources failing is normal)."""
        if helper_deaths >= HELPER_DEATHS:
            return f"the ingest helper process died {helper_deaths} times in a row"
        if self.failed_cycles >= FAILED_CYCLES:
            return f"every poll of the last {self.failed_cycles} cycles failed"
        return None
