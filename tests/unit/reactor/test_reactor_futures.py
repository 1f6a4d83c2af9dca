"""Futures, tasks, `sleep` and `wait_for` of init's reactor
(upstart/reactor/futures.py): results and exceptions reach the awaiting
coroutine, cancellation throws CancelledError where the coroutine waits, an
exception nobody retrieved is reported, a timeout cancels what it waited
for. `sleep` and `wait_for` are also run on an asyncio loop, as the shared
control modules use them there."""

from __future__ import annotations

import asyncio
import gc

import pytest

from upstart.reactor.futures import (
    CancelledError, Future, InvalidStateError, first_done, gather, sleep, wait_for)


def test_a_future_is_set_once_and_calls_back_on_the_loop(loop):
    fut = loop.create_future()
    seen: list = []
    fut.add_done_callback(lambda f: seen.append(f.result()))
    with pytest.raises(InvalidStateError):
        fut.result()
    fut.set_result(7)
    assert seen == []                             # not synchronously: on the loop
    with pytest.raises(InvalidStateError):
        fut.set_result(8)
    assert not fut.cancel()
    loop.run_until_complete(sleep(loop, 0))
    assert seen == [7] and fut.done() and not fut.cancelled()
    late: list = []
    fut.add_done_callback(late.append)            # done already: still on the loop
    loop.run_until_complete(sleep(loop, 0))
    assert late == [fut]


def test_a_removed_callback_is_not_called(loop):
    fut = loop.create_future()
    seen: list = []
    fut.add_done_callback(seen.append)
    assert fut.remove_done_callback(seen.append) == 1
    fut.set_result(None)
    loop.run_until_complete(sleep(loop, 0))
    assert seen == []


def test_a_task_awaits_futures_and_gets_their_results_and_exceptions(loop):
    a, b = loop.create_future(), loop.create_future()

    async def body():
        first = await a
        try:
            await b
        except KeyError as exc:
            return first, str(exc)
    task = loop.create_task(body())
    loop.call_later(0.01, a.set_result, "A")
    loop.call_later(0.02, b.set_exception, KeyError("B"))
    assert loop.run_until_complete(task) == ("A", "'B'")


def test_cancelling_a_task_throws_cancelled_error_where_it_waits(loop):
    steps: list = []

    async def body():
        try:
            await loop.create_future()            # never set
        except CancelledError:
            steps.append("cancelled")
            raise
        finally:
            steps.append("finally")
    task = loop.create_task(body())
    loop.call_later(0.01, task.cancel)
    with pytest.raises(CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled() and steps == ["cancelled", "finally"]
    assert not task.cancel()                      # done already


def test_a_task_cancelled_before_it_starts_never_runs(loop):
    ran: list = []

    async def body():
        ran.append(1)
    task = loop.create_task(body())
    task.cancel()
    loop.run_until_complete(sleep(loop, 0.01))
    assert task.cancelled() and ran == []


def test_a_task_that_swallows_cancellation_finishes_normally(loop):
    async def body():
        try:
            await sleep(loop, 10)
        except CancelledError:
            return "kept going"
    task = loop.create_task(body())
    loop.call_later(0.01, task.cancel)
    assert loop.run_until_complete(task) == "kept going"


def test_an_exception_nobody_retrieved_is_reported_not_lost(loop):
    async def fails():
        raise ValueError("lost?")
    loop.create_task(fails())
    loop.run_until_complete(sleep(loop, 0.01))
    gc.collect()
    assert [(m, type(e)) for m, e in loop.errors] == \
        [("Task exception was never retrieved", ValueError)]


def test_a_retrieved_exception_is_not_reported(loop):
    async def fails():
        raise ValueError("seen")
    task = loop.create_task(fails())
    loop.run_until_complete(sleep(loop, 0.01))
    assert isinstance(task.exception(), ValueError)
    del task
    gc.collect()
    assert loop.errors == []


def test_a_bare_yield_gives_the_loop_a_turn_and_a_bad_yield_is_an_error(loop):
    class Turn:
        def __await__(self):
            yield

    class Bad:
        def __await__(self):
            yield "not a future"
    seen: list = []

    async def body():
        loop.call_soon(seen.append, "other")
        await Turn()
        seen.append("after the turn")
        await Bad()
    with pytest.raises(RuntimeError, match="bad yield"):
        loop.run_until_complete(body())
    assert seen == ["other", "after the turn"]


def test_sleep_waits_its_delay(loop):
    start = loop.time()
    assert loop.run_until_complete(sleep(loop, 0.03, "done")) == "done"
    assert loop.time() - start >= 0.03


def test_wait_for_returns_in_time_and_times_out_cancelling_the_task(loop):
    cleaned: list = []

    async def slow():
        try:
            await sleep(loop, 10)
        finally:
            cleaned.append("slow")
    assert loop.run_until_complete(wait_for(loop, sleep(loop, 0.01, "quick"), 1)) == "quick"
    with pytest.raises(TimeoutError):
        loop.run_until_complete(wait_for(loop, slow(), 0.02))
    assert cleaned == ["slow"]                    # finished before TimeoutError was raised
    fut = loop.create_future()
    with pytest.raises(TimeoutError):
        loop.run_until_complete(wait_for(loop, fut, 0.01))
    assert fut.cancelled()
    assert loop.run_until_complete(wait_for(loop, sleep(loop, 0, 5), None)) == 5


def test_cancelling_wait_for_cancels_what_it_waits_for(loop):
    inner = loop.create_future()

    async def outer():
        await wait_for(loop, inner, 10)
    task = loop.create_task(outer())
    loop.call_later(0.01, task.cancel)
    with pytest.raises(CancelledError):
        loop.run_until_complete(task)
    assert inner.cancelled()
    assert loop._timers == [] or all(t[2].cancelled() for t in loop._timers)


def test_sleep_and_wait_for_run_on_an_asyncio_loop_too():
    """The shared control modules call them on asyncio loops (bridges, tests)."""
    aloop = asyncio.new_event_loop()
    try:
        async def main():
            assert await sleep(aloop, 0.01, "slept") == "slept"
            with pytest.raises(TimeoutError):
                await wait_for(aloop, sleep(aloop, 10), 0.01)
            fut = aloop.create_future()
            aloop.call_later(0.01, fut.set_result, 3)
            return await wait_for(aloop, fut, 1)
        assert aloop.run_until_complete(main()) == 3
    finally:
        aloop.close()


def test_a_future_can_only_be_awaited_from_a_task(loop):
    fut = Future(loop)
    gen = fut.__await__()
    assert next(gen) is fut
    with pytest.raises(RuntimeError):
        next(gen)


def test_gather_returns_results_in_order_once_all_are_done(loop):
    late = loop.create_future()
    loop.call_later(0.02, late.set_result, "late")

    async def soon(value):
        await sleep(loop, 0)
        return value
    assert loop.run_until_complete(gather(loop, late, soon(1), soon(2))) == ["late", 1, 2]
    assert loop.run_until_complete(gather(loop)) == []


def test_gather_raises_the_first_exception_after_all_are_done(loop):
    finished: list = []

    async def fails(n, delay):
        await sleep(loop, delay)
        finished.append(n)
        raise ValueError(n)

    async def fine():
        await sleep(loop, 0.03)
        finished.append("fine")
    with pytest.raises(ValueError, match="1"):
        loop.run_until_complete(gather(loop, fine(), fails(1, 0.02), fails(2, 0.01)))
    assert finished == [2, 1, "fine"]
    loop.run_until_complete(sleep(loop, 0))
    gc.collect()
    assert loop.errors == []                     # the second exception is not "lost"


def test_cancelling_gather_cancels_what_it_waits_for(loop):
    a, b = loop.create_future(), loop.create_future()
    b.set_result(1)
    task = loop.create_task(gather(loop, a, b))
    loop.call_later(0.01, task.cancel)
    with pytest.raises(CancelledError):
        loop.run_until_complete(task)
    assert a.cancelled() and not b.cancelled()
    c = loop.create_future()
    c.cancel()
    with pytest.raises(CancelledError):          # one of them cancelled
        loop.run_until_complete(gather(loop, c))


def test_first_done_returns_when_one_is_done_and_leaves_the_others(loop):
    a, b, c = loop.create_future(), loop.create_future(), loop.create_future()
    loop.call_later(0.01, b.set_result, None)
    assert loop.run_until_complete(first_done(loop, a, b, c)) == [b]
    assert not a.done() and not c.done() and a._callbacks == [] == c._callbacks
    assert loop.run_until_complete(first_done(loop, a, b)) == [b]   # done already
    task = loop.create_task(first_done(loop, a, c))
    loop.call_later(0.01, task.cancel)
    with pytest.raises(CancelledError):
        loop.run_until_complete(task)
    assert not a.cancelled() and a._callbacks == []

