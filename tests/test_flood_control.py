"""The shared flood control on its own: who may send when, with small windows to stay quick."""

from __future__ import annotations

import asyncio
import bisect
import random

import pytest

from bot.delivery.flood import BACKGROUND, REPLY, FloodClosed, FloodControl, FloodLimits, chat_key

QUICK = FloodLimits(overall=(30, 0.05), private=(1, 0.05), group=(3, 0.05))


async def take_turns(
    control: FloodControl, requests: list[tuple[int, int]], started: list[tuple[int, int]]
) -> None:
    """Run (chat, priority) requests; each records itself when its turn starts."""

    async def one(chat: int, priority: int) -> None:
        async with control.turn(chat, priority):
            started.append((chat, priority))
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(one(chat, priority)) for chat, priority in requests]
    await asyncio.gather(*tasks)


async def test_a_reply_goes_before_alerts_queued_earlier_for_the_same_chat() -> None:
    control = FloodControl(QUICK)
    started: list[tuple[int, int]] = []
    async with control.turn(5, BACKGROUND):  # an alert in flight holds the chat
        runner = asyncio.create_task(
            take_turns(control, [(5, BACKGROUND), (5, BACKGROUND), (5, REPLY)], started)
        )
        await asyncio.sleep(0.01)
        assert started == [] and control.waiting == 3
    await runner
    assert started == [(5, REPLY), (5, BACKGROUND), (5, BACKGROUND)]


async def test_when_the_global_window_is_full_replies_take_the_next_turns() -> None:
    control = FloodControl(FloodLimits(overall=(1, 0.05), private=(1, 0.05), group=(1, 0.05)))
    started: list[tuple[int, int]] = []
    requests = [(chat, BACKGROUND) for chat in range(10, 14)] + [(20, REPLY), (21, REPLY)]
    async with control.turn(1, BACKGROUND):
        runner = asyncio.create_task(take_turns(control, requests, started))
        await asyncio.sleep(0.01)
    await runner
    assert started[:2] == [(20, REPLY), (21, REPLY)]
    assert sorted(started[2:]) == [(chat, BACKGROUND) for chat in range(10, 14)]


async def test_one_send_per_chat_at_a_time() -> None:
    control = FloodControl(QUICK)
    in_flight = {7: 0, -7: 0}
    most = {7: 0, -7: 0}

    async def one(chat: int) -> None:
        async with control.turn(chat, REPLY):
            in_flight[chat] += 1
            most[chat] = max(most[chat], in_flight[chat])
            await asyncio.sleep(0.005)
            in_flight[chat] -= 1

    await asyncio.gather(*(one(chat) for chat in (7, -7) * 5))
    assert most == {7: 1, -7: 1}


async def test_a_penalty_holds_its_chat_only_until_it_ends() -> None:
    control = FloodControl(QUICK)
    control.penalize(9, 0.1)
    held_until = control.held_until(9)
    started_at: dict[int, float] = {}

    async def one(chat: int) -> None:
        async with control.turn(chat, REPLY):
            started_at[chat] = control.clock()

    await asyncio.gather(one(9), one(10))
    assert started_at[9] >= held_until  # nothing to the penalised chat before the end
    assert started_at[10] < held_until  # another chat was not held


async def test_a_chatless_penalty_holds_everyone_and_close_fails_the_waiting() -> None:
    control = FloodControl(QUICK)
    control.penalize(None, 30)
    waiting = asyncio.create_task(one_turn(control, 11))
    await asyncio.sleep(0.01)
    assert not waiting.done() and control.held_until(11) == control.held_until(None)
    control.close()
    with pytest.raises(FloodClosed):
        await waiting
    with pytest.raises(FloodClosed):
        await one_turn(control, 12)


async def test_a_cancelled_wait_leaves_no_trace() -> None:
    control = FloodControl(QUICK)
    async with control.turn(3, REPLY):
        waiting = asyncio.create_task(one_turn(control, 3))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert control.waiting == 0
    await one_turn(control, 3)


async def one_turn(control: FloodControl, chat: int) -> None:
    async with control.turn(chat, REPLY):
        pass


def test_chat_keys() -> None:
    assert chat_key(5) == 5 and chat_key("-100") == -100 and chat_key("@news") == "@news"
    assert chat_key(None) is None


async def test_windows_hold_where_telegram_counts_whatever_the_network_delay() -> None:
    """Telegram sees a send some time after it starts and answers some time later; counting
    from the answer keeps every window true at Telegram's end."""
    limits = FloodLimits(overall=(4, 0.05), private=(1, 0.03), group=(2, 0.05))
    control = FloodControl(limits)
    rng = random.Random(7)
    arrivals: list[tuple[float, int]] = []

    async def one(chat: int) -> None:
        async with control.turn(chat, rng.choice((REPLY, BACKGROUND))):
            await asyncio.sleep(rng.uniform(0, 0.01))  # on the way to Telegram
            arrivals.append((control.clock(), chat))
            await asyncio.sleep(rng.uniform(0, 0.01))  # the answer on its way back

    await asyncio.gather(*(one(rng.choice((1, 2, 3, -4, -5))) for _ in range(60)))
    assert len(arrivals) == 60

    def most_in_a_window(times: list[float], period: float) -> int:
        times = sorted(times)
        return max(bisect.bisect_left(times, t + period) - i for i, t in enumerate(times))

    assert most_in_a_window([t for t, _ in arrivals], 0.05) <= 4
    for chat in (1, 2, 3):
        assert most_in_a_window([t for t, c in arrivals if c == chat], 0.03) <= 1
    for chat in (-4, -5):
        assert most_in_a_window([t for t, c in arrivals if c == chat], 0.05) <= 2
