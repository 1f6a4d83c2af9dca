"""`upstart.control.methods.isawaitable` answers as `inspect.isawaitable` does
for what backends return: coroutines, futures and tasks of init's reactor
and of asyncio; a reply tuple, None or a plain value is not awaited. (It
exists so that PID 1 does not import `inspect`: docs/design/records.md.)"""

import asyncio
import inspect

from upstart.control.methods import isawaitable
from upstart.reactor.loop import Reactor


async def _coro():
    return 1


def test_the_same_answers_as_inspect():
    reactor = Reactor()
    aloop = asyncio.new_event_loop()
    coro = _coro()
    try:
        values = [coro, reactor.create_future(), aloop.create_future(), ("", ()), None, 0,
                  "text", object(), _coro]
        for value in values:
            assert isawaitable(value) == inspect.isawaitable(value), value
    finally:
        coro.close()
        aloop.close()
        reactor.close()
