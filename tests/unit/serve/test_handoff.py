"""How a served turn's events reach the event loop (kilocli/serve/turns.py): the LoopInbox hands
items from worker threads over in batches, one loop wakeup for all that arrived meanwhile, each
producer's items in order; a stream takes every item already queued in one piece."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kilocli.serve.request import ApiError
from kilocli.serve.turns import LiveTurn, LoopInbox

PRODUCERS, ITEMS = 3, 200


def test_items_that_arrive_while_the_loop_is_busy_move_in_one_wakeup_in_order():
    async def main() -> tuple[list[list[tuple[int, int]]], LoopInbox]:
        inbox = LoopInbox(asyncio.get_running_loop())
        queues: list[asyncio.Queue] = [asyncio.Queue() for _ in range(PRODUCERS)]

        def produce(i: int) -> None:
            for n in range(ITEMS):
                inbox.put(queues[i], (i, n))

        threads = [threading.Thread(target=produce, args=(i,)) for i in range(PRODUCERS)]
        for thread in threads:
            thread.start()
        for thread in threads:  # the loop is held here: every item waits in the inbox
            thread.join(30)
        got = [[await asyncio.wait_for(q.get(), 5) for _ in range(ITEMS)] for q in queues]
        return got, inbox

    got, inbox = asyncio.run(main())
    for i, items in enumerate(got):
        assert items == [(i, n) for n in range(ITEMS)]
    assert inbox.moved == PRODUCERS * ITEMS
    assert inbox.wakeups == 1


def test_an_item_put_after_a_drain_wakes_the_loop_again():
    async def main() -> LoopInbox:
        inbox = LoopInbox(asyncio.get_running_loop())
        queue: asyncio.Queue = asyncio.Queue()
        for n in range(3):
            thread = threading.Thread(target=inbox.put, args=(queue, n))
            thread.start()
            assert await asyncio.wait_for(queue.get(), 5) == n
            thread.join(5)
        return inbox

    inbox = asyncio.run(main())
    assert (inbox.wakeups, inbox.moved) == (3, 3)


def test_a_put_after_the_loop_closed_is_dropped_quietly():
    loop = asyncio.new_event_loop()
    queue: asyncio.Queue = asyncio.Queue()
    inbox = LoopInbox(loop)
    loop.close()
    inbox.put(queue, "late")  # a worker finishing after the server stopped: no exception
    inbox.put(queue, "later")
    assert inbox.moved == 0


def _turn_with_queue() -> LiveTurn:
    """A LiveTurn's consuming side alone: its queue, fed here instead of by a worker."""
    turn = object.__new__(LiveTurn)
    turn._queue = asyncio.Queue()
    return turn


def test_a_stream_takes_every_queued_event_with_the_one_it_waited_for():
    outcome = object()  # anything but an (attempt, event) tuple ends a turn

    async def main() -> list[list[object]]:
        turn = _turn_with_queue()
        for n in (1, 2):
            turn._queue.put_nowait(("attempt", n))
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, turn._queue.put_nowait, ("attempt", 3))
        loop.call_later(0.05, turn._queue.put_nowait, outcome)
        return [batch async for batch in turn.batches(("attempt", 0))]

    batches = asyncio.run(main())
    assert batches == [
        [("attempt", 0), ("attempt", 1), ("attempt", 2)],
        [("attempt", 3), outcome],
    ]


def test_a_stream_stops_at_the_outcome_even_with_more_queued():
    outcome = object()

    async def main() -> list[list[object]]:
        turn = _turn_with_queue()
        turn._queue.put_nowait(outcome)
        turn._queue.put_nowait(("attempt", 9))  # never read: the turn is over
        return [batch async for batch in turn.batches(("attempt", 0))]

    assert asyncio.run(main()) == [[("attempt", 0), outcome]]


def test_a_worker_failure_in_the_queue_ends_the_stream_with_a_500_after_what_came_before():
    async def main() -> list[list[object]]:
        turn = _turn_with_queue()
        turn._queue.put_nowait(("attempt", 1))
        turn._queue.put_nowait(RuntimeError("boom"))
        seen = []
        with pytest.raises(ApiError) as caught:
            async for batch in turn.batches(("attempt", 0)):
                seen.append(batch)
        assert caught.value.status == 500 and "RuntimeError" in caught.value.message
        return seen

    assert asyncio.run(main()) == [[("attempt", 0), ("attempt", 1)]]
