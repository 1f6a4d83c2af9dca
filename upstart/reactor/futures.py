"""Futures and tasks of the reactor, and `sleep`/`wait_for` for any loop.

A `Future` is a result that is not there yet: it is set once (a value, an
exception, or cancelled) and then calls its done callbacks on the loop.
`await future` suspends the coroutine until then. A `Task` drives one
coroutine: it sends it the result of the future it awaits (or throws the
exception in), so the coroutine reads as straight-line code.

The semantics are asyncio's where init relies on them: cancelling a task
throws `CancelledError` (a BaseException, so `except Exception` does not
swallow it) into the coroutine at the point where it waits; an exception
nobody retrieved is reported through the loop (`report`) when the future is
collected, never lost and never fatal.

`sleep` and `wait_for` take the loop as their first argument and use only
`create_future`, `create_task` and `call_later`: shared modules (the control
server, the bus client) call them the same way on this reactor and on an
asyncio loop. A timed-out `wait_for` raises the builtin `TimeoutError`
(which asyncio's is, since Python 3.11).
"""

from __future__ import annotations

_PENDING, _FINISHED, _CANCELLED = 0, 1, 2


class CancelledError(BaseException):
    """The task or future was cancelled."""


class InvalidStateError(Exception):
    """The future's result is not there yet, or it is set twice."""


class Future:
    """A result set once, later (see the module docstring)."""

    __slots__ = ("_loop", "_state", "_result", "_exception", "_callbacks", "_unretrieved")

    def __init__(self, loop):
        self._loop = loop
        self._state = _PENDING
        self._result = None
        self._exception: BaseException | None = None
        self._callbacks: list = []
        self._unretrieved = False     # an exception set that nobody has looked at

    def get_loop(self):
        return self._loop

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self):
        if self._state == _CANCELLED:
            raise CancelledError()
        if self._state == _PENDING:
            raise InvalidStateError("Result is not ready.")
        self._unretrieved = False
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        if self._state == _CANCELLED:
            raise CancelledError()
        if self._state == _PENDING:
            raise InvalidStateError("Exception is not set.")
        self._unretrieved = False
        return self._exception

    def set_result(self, value) -> None:
        if self._state != _PENDING:
            raise InvalidStateError("invalid state")
        self._result = value
        self._state = _FINISHED
        self._schedule_callbacks()

    def set_exception(self, exc) -> None:
        if self._state != _PENDING:
            raise InvalidStateError("invalid state")
        if isinstance(exc, type):
            exc = exc()
        if type(exc) is StopIteration:
            raise TypeError("StopIteration cannot be raised into a Future")
        self._exception = exc
        self._state = _FINISHED
        self._unretrieved = True
        self._schedule_callbacks()

    def cancel(self, msg=None) -> bool:
        if self._state != _PENDING:
            return False
        self._state = _CANCELLED
        self._schedule_callbacks()
        return True

    def add_done_callback(self, fn, *, context=None) -> None:
        """`fn(future)` on the loop once the future is done (at once, on the
        loop's next turn, if it is done already)."""
        if self._state != _PENDING:
            self._loop.call_soon(fn, self)
        else:
            self._callbacks.append(fn)

    def remove_done_callback(self, fn) -> int:
        kept = [cb for cb in self._callbacks if cb != fn]
        removed = len(self._callbacks) - len(kept)
        self._callbacks = kept
        return removed

    def _schedule_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            self._loop.call_soon(fn, self)

    def __await__(self):
        if self._state == _PENDING:
            yield self                # the task waits on us (Task._step)
        if self._state == _PENDING:
            raise RuntimeError("await wasn't used with future")
        return self.result()

    __iter__ = __await__

    def __del__(self):
        if self._unretrieved:
            self._unretrieved = False
            what = "Task" if isinstance(self, Task) else "Future"
            try:
                self._loop.report(f"{what} exception was never retrieved", self._exception)
            except Exception:   # noqa: BLE001 - a report must never raise in __del__
                pass


class Task(Future):
    """Drives one coroutine on the loop; done when the coroutine returns,
    raises, or is cancelled (see the module docstring)."""

    __slots__ = ("_coro", "_waiter", "_must_cancel")

    def __init__(self, coro, loop):
        super().__init__(loop)
        self._coro = coro
        self._waiter: Future | None = None    # the future the coroutine awaits
        self._must_cancel = False
        loop.call_soon(self._step)

    def set_result(self, value) -> None:
        raise RuntimeError("Task does not support set_result operation")

    def set_exception(self, exc) -> None:
        raise RuntimeError("Task does not support set_exception operation")

    def cancel(self, msg=None) -> bool:
        """Ask for cancellation: `CancelledError` is thrown into the coroutine
        where it waits (or before it starts). False if it is done already."""
        self._unretrieved = False
        if self._state != _PENDING:
            return False
        if self._waiter is not None and self._waiter.cancel():
            return True               # its wake-up throws CancelledError in
        self._must_cancel = True
        return True

    def _step(self, exc: BaseException | None = None, value=None) -> None:
        if self._state != _PENDING:
            return
        if self._must_cancel:
            if not isinstance(exc, CancelledError):
                exc = CancelledError()
            self._must_cancel = False
        self._waiter = None
        try:
            if exc is None:
                yielded = self._coro.send(value)
            else:
                yielded = self._coro.throw(exc)
        except StopIteration as stop:
            if self._must_cancel:     # cancelled while it was finishing
                self._must_cancel = False
                Future.cancel(self)
            else:
                Future.set_result(self, stop.value)
        except CancelledError:
            Future.cancel(self)
        except (KeyboardInterrupt, SystemExit) as err:
            Future.set_exception(self, err)
            raise
        except BaseException as err:
            Future.set_exception(self, err)
        else:
            self._wait_on(yielded)

    def _wait_on(self, yielded) -> None:
        if isinstance(yielded, Future) and yielded is not self:
            self._waiter = yielded
            yielded.add_done_callback(self._wakeup)
            if self._must_cancel and yielded.cancel():
                self._must_cancel = False
        elif yielded is None:         # a bare `yield`: give the loop a turn
            self._loop.call_soon(self._step)
        else:
            self._loop.call_soon(self._step, RuntimeError(
                f"Task got bad yield: {yielded!r}"))

    def _wakeup(self, future: Future) -> None:
        try:
            value = future.result()
        except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine
            self._step(exc)
        else:
            self._step(None, value)


def _resolve(future, value=None) -> None:
    if not future.done():
        future.set_result(value)


async def sleep(loop, delay: float, result=None):
    """Wait `delay` seconds on `loop` (this reactor or an asyncio loop)."""
    future = loop.create_future()
    handle = loop.call_later(delay, _resolve, future, result)
    try:
        return await future
    finally:
        handle.cancel()


async def _cancel_and_wait(loop, future) -> None:
    """Cancel `future` and wait until it is done (a task's coroutine has run
    its `finally` clauses, so nothing of it is left registered)."""
    if future.done():
        return
    waiter = loop.create_future()

    def done(_):
        _resolve(waiter)
    future.add_done_callback(done)
    future.cancel()
    try:
        await waiter
    finally:
        future.remove_done_callback(done)


async def wait_for(loop, awaitable, timeout: float | None):
    """The result of `awaitable` (a future, or a coroutine run as a task),
    or `TimeoutError` after `timeout` seconds, when it is cancelled (and, a
    task, waited for until it has finished). Cancelling the caller cancels
    it too. Works on this reactor and on an asyncio loop."""
    future = awaitable if hasattr(awaitable, "add_done_callback") else \
        loop.create_task(awaitable)
    if timeout is None:
        return await future
    if not future.done():
        waiter = loop.create_future()

        def done(_):
            _resolve(waiter)
        handle = loop.call_later(max(0.0, timeout), _resolve, waiter)
        future.add_done_callback(done)
        try:
            await waiter
        except BaseException:         # we were cancelled: so is what we wait for
            future.remove_done_callback(done)
            await _cancel_and_wait(loop, future)
            raise
        finally:
            handle.cancel()
        if not future.done():
            future.remove_done_callback(done)
            await _cancel_and_wait(loop, future)
            if future.cancelled():
                raise TimeoutError()
    return future.result()


async def gather(loop, *awaitables):
    """The results of `awaitables` (futures, or coroutines run as tasks),
    in their order, once every one is done; if any raised, the first
    (in their order) such exception instead (the others are marked read).
    Cancelling the caller cancels every one not yet done; one of them
    cancelled makes it raise CancelledError."""
    futures = [aw if hasattr(aw, "add_done_callback") else loop.create_task(aw)
               for aw in awaitables]
    pending = [f for f in futures if not f.done()]
    if pending:
        waiter = loop.create_future()
        left = [len(pending)]

        def one_done(_):
            left[0] -= 1
            if left[0] == 0:
                _resolve(waiter)
        for future in pending:
            future.add_done_callback(one_done)
        try:
            await waiter
        except BaseException:
            for future in pending:
                future.remove_done_callback(one_done)
                future.cancel()
            raise
    failed = None
    for future in futures:
        if future.cancelled():
            raise CancelledError()
        exc = future.exception()
        if exc is not None and failed is None:
            failed = exc
    if failed is not None:
        raise failed
    return [future.result() for future in futures]


async def first_done(loop, *futures):
    """Wait until at least one of `futures` is done (asyncio's `wait(...,
    return_when=FIRST_COMPLETED)`); the list of those that are. Cancelling
    the caller leaves them as they are."""
    done = [f for f in futures if f.done()]
    if done:
        return done
    waiter = loop.create_future()

    def wake(_):
        _resolve(waiter)
    for future in futures:
        future.add_done_callback(wake)
    try:
        await waiter
    finally:
        for future in futures:
            future.remove_done_callback(wake)
    return [f for f in futures if f.done()]
