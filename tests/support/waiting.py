"""Waiting for a condition, the one way the tests do it.

A test waits for the state it needs (a status line, a file, a member of a
cgroup), never for a length of time: `wait_for` polls a predicate and returns
its first true value, or fails naming what it waited for. `spin_until` does the
same while turning a loop the test drives: init's reactor (the `reactor`
fixture), or an asyncio loop (the `loop` fixture, for the shared control
modules, which also run on asyncio in the test servers); `until` from inside
a coroutine running on a reactor (the bridges' tests, `upstart.reactor.loop.run`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from upstart.reactor.futures import sleep
from upstart.reactor.loop import Reactor, get_running_loop


def _failure(predicate, timeout: float, context: Callable[[], str] | None) -> AssertionError:
    what = getattr(predicate, "__qualname__", repr(predicate))
    text = f"condition not reached in {timeout:g} s: {what}"
    return AssertionError(text + ("; " + context() if context else ""))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
             context: Callable[[], str] | None = None) -> Any:
    """Poll `predicate` until it returns something true and return that;
    on timeout an AssertionError with `context()` (e.g. init's log)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(predicate, timeout, context)
        time.sleep(interval)


@pytest.fixture
def loop():
    """A fresh asyncio loop the test turns itself (with `spin_until`), closed after."""
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture
def reactor():
    """A fresh reactor, init's own loop (upstart/reactor), closed after."""
    lp = Reactor()
    yield lp
    lp.close()


def spin_until(loop, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Run `loop` in small steps until `predicate` is true; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(predicate, timeout, None)
        loop.run_until_complete(sleep(loop, 0.01))


async def until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """`wait_for` from inside a coroutine on a reactor (which keeps running)."""
    loop = get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise _failure(predicate, timeout, None)
        await sleep(loop, 0.01)


async def pause(delay: float) -> None:
    """Let the running reactor turn for `delay` seconds."""
    await sleep(get_running_loop(), delay)
