"""The reactor: init's single-threaded event loop (docs/design/reactor.md).

One turn of the loop: wait in `epoll` until a registered descriptor is
ready or the earliest timer is due (not at all when callbacks are ready),
then run, in this order, the callbacks of the ready descriptors, the timers
that are due, and whatever was `call_soon`'d before the turn started (what
those callbacks schedule runs on the next turn, so one busy source cannot
starve the others).

What it owns: the epoll descriptor, the ready queue, the heap of timers,
the readers and writers (one of each per descriptor), the signal handlers
and the socket pair that `signal.set_wakeup_fd` writes the numbers of
caught signals to. A handler added with `add_signal_handler` runs from the
loop like any callback, never inside the Python-level signal handler.

What it never does: start a thread, block anywhere but in `epoll.poll`, or
let an exception out of a callback end the loop (it is reported through
`report(message, exc)`, which init points at its log, and the loop goes
on). Its collections hold only what is registered: a cancelled timer leaves
the heap when it is due, or at once when cancelled ones make up most of it.

The method names and signatures are asyncio's, for the subset init uses,
so the modules shared with code that keeps asyncio (the control server,
which the test servers run on asyncio) work on either loop.
"""

from __future__ import annotations

import heapq
import os
import select
import signal
import socket
import sys
import time
from _thread import get_ident
from collections import deque

from upstart.reactor.futures import Future, Task

_IN = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
_OUT = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
_COMPACT_AT = 100            # cancelled timers before the heap may be rebuilt
_running: dict[int, "Reactor"] = {}    # thread id -> the reactor it is running


def _fd(fileobj) -> int:
    return fileobj if isinstance(fileobj, int) else fileobj.fileno()


def _noop(signum, frame) -> None:
    """The Python-level handler: the C-level one has written the signal's
    number to the wake-up socket already; the loop does the rest."""


def _stderr_report(message: str, exc: BaseException | None) -> None:
    import traceback
    text = "".join(traceback.format_exception(exc)) if exc is not None else ""
    sys.stderr.write(f"reactor: {message}\n{text}")


class Handle:
    """A callback the loop will run (ready, a timer, a reader or a signal's
    handler); `cancel()` means it will not."""

    __slots__ = ("_fn", "_args", "_loop", "_when", "_in_heap")

    def __init__(self, fn, args, loop, when: float = 0.0):
        self._fn = fn
        self._args = args
        self._loop = loop
        self._when = when
        self._in_heap = False

    def cancel(self) -> None:
        if self._fn is None:
            return
        self._fn = self._args = None
        if self._in_heap:
            self._loop._timer_cancelled()

    def cancelled(self) -> bool:
        return self._fn is None

    def when(self) -> float:
        return self._when

    def _run(self) -> None:
        try:
            self._fn(*self._args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:   # noqa: BLE001 - never the end of the loop
            self._loop.report(f"Exception in callback {self._fn!r}", exc)

    def __repr__(self) -> str:
        return f"<Handle {'cancelled' if self._fn is None else self._fn!r}>"


TimerHandle = Handle


class Reactor:
    """See the module docstring. `report(message, exc)`: where an exception
    of a callback (or one never retrieved from a future) goes."""

    def __init__(self, report=None):
        self.report = report or _stderr_report
        self._ep = select.epoll()
        self._ready: deque[Handle] = deque()
        self._timers: list = []            # heap of (when, sequence, handle)
        self._sequence = 0                 # equal deadlines run in call order
        self._cancelled = 0                # cancelled handles still in the heap
        self._readers: dict[int, Handle] = {}
        self._writers: dict[int, Handle] = {}
        self._masks: dict[int, int] = {}   # what epoll has of each descriptor
        self._signals: dict[int, Handle] = {}
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._stopping = False
        self._running = False

    # ------------------------------------------------------------ time, callbacks

    def time(self) -> float:
        return time.monotonic()

    def call_soon(self, fn, *args, context=None) -> Handle:
        handle = Handle(fn, args, self)
        self._ready.append(handle)
        return handle

    def call_later(self, delay: float, fn, *args, context=None) -> Handle:
        return self.call_at(time.monotonic() + delay, fn, *args)

    def call_at(self, when: float, fn, *args, context=None) -> Handle:
        handle = Handle(fn, args, self, when)
        handle._in_heap = True
        self._sequence += 1
        heapq.heappush(self._timers, (when, self._sequence, handle))
        return handle

    def _timer_cancelled(self) -> None:
        self._cancelled += 1
        if self._cancelled > _COMPACT_AT and 2 * self._cancelled > len(self._timers):
            self._timers = [t for t in self._timers if t[2]._fn is not None]
            heapq.heapify(self._timers)
            for t in self._timers:
                t[2]._in_heap = True
            self._cancelled = 0

    def create_future(self) -> Future:
        return Future(self)

    def create_task(self, coro, *, name=None, context=None) -> Task:
        return Task(coro, self)

    # ------------------------------------------------------------ descriptors

    def add_reader(self, fd, fn, *args) -> None:
        self._add(self._readers, _fd(fd), Handle(fn, args, self))

    def add_writer(self, fd, fn, *args) -> None:
        self._add(self._writers, _fd(fd), Handle(fn, args, self))

    def remove_reader(self, fd) -> bool:
        return self._remove(self._readers, _fd(fd))

    def remove_writer(self, fd) -> bool:
        return self._remove(self._writers, _fd(fd))

    def _add(self, table: dict, fd: int, handle: Handle) -> None:
        old = table.get(fd)
        table[fd] = handle
        try:
            self._update(fd, always=True)
        except BaseException:
            if old is None:
                del table[fd]
            else:
                table[fd] = old
            raise
        if old is not None:
            old.cancel()

    def _remove(self, table: dict, fd: int) -> bool:
        handle = table.pop(fd, None)
        if handle is None:
            return False
        handle.cancel()
        try:
            self._update(fd)
        except OSError:                  # closed already: epoll has forgotten it
            self._masks.pop(fd, None)
        return True

    def _update(self, fd: int, always: bool = False) -> None:
        """Tell epoll what is wanted of `fd` now. `always`: even when the
        mask is unchanged (the descriptor may be a new one of the same
        number, unknown to epoll)."""
        mask = (select.EPOLLIN if fd in self._readers else 0) | \
            (select.EPOLLOUT if fd in self._writers else 0)
        old = self._masks.get(fd)
        if not mask:
            if old is not None:
                del self._masks[fd]
                self._ep.unregister(fd)
            return
        if old is None:
            try:
                self._ep.register(fd, mask)
            except FileExistsError:
                self._ep.modify(fd, mask)
        elif old != mask or always:
            try:
                self._ep.modify(fd, mask)
            except FileNotFoundError:
                self._ep.register(fd, mask)
        self._masks[fd] = mask

    # ------------------------------------------------------------ signals

    def add_signal_handler(self, sig: int, fn, *args) -> None:
        """Run `fn(*args)` from the loop after each delivery of `sig`."""
        if self._wake is None:
            self._wake = socket.socketpair()
            for s in self._wake:
                s.setblocking(False)
            self.add_reader(self._wake[0].fileno(), self._read_signals)
        signal.set_wakeup_fd(self._wake[1].fileno(), warn_on_full_buffer=False)
        self._signals[sig] = Handle(fn, args, self)
        try:
            signal.signal(sig, _noop)
            signal.siginterrupt(sig, False)
        except (OSError, ValueError) as exc:
            del self._signals[sig]
            raise RuntimeError(f"signal {sig} cannot be caught: {exc}") from exc

    def remove_signal_handler(self, sig: int) -> bool:
        if self._signals.pop(sig, None) is None:
            return False
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except (OSError, ValueError):
            pass
        if not self._signals:
            try:
                signal.set_wakeup_fd(-1)
            except ValueError:           # not the main thread: nothing was set here
                pass
        return True

    def _read_signals(self) -> None:
        while True:
            try:
                data = self._wake[0].recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for sig in data:
                handle = self._signals.get(sig)
                if handle is not None:
                    handle._run()

    # ------------------------------------------------------------ running

    def _run_once(self) -> None:
        if self._ready or self._stopping:
            timeout = 0.0
        elif self._timers:
            timeout = max(0.0, self._timers[0][0] - time.monotonic())
        else:
            timeout = -1.0
        ready = self._ready
        for fd, events in self._ep.poll(timeout):
            if events & _IN:
                handle = self._readers.get(fd)
                if handle is not None:
                    ready.append(handle)
            if events & _OUT:
                handle = self._writers.get(fd)
                if handle is not None:
                    ready.append(handle)
        timers = self._timers
        if timers:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                handle = heapq.heappop(timers)[2]
                handle._in_heap = False
                if handle._fn is None:
                    self._cancelled -= 1
                else:
                    ready.append(handle)
        for _ in range(len(ready)):
            handle = ready.popleft()
            if handle._fn is not None:
                handle._run()

    def run_forever(self) -> None:
        if self._running:
            raise RuntimeError("This event loop is already running")
        thread = get_ident()
        outer = _running.get(thread)
        self._running = True
        _running[thread] = self
        try:
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False
            self._running = False
            if outer is None:
                del _running[thread]
            else:
                _running[thread] = outer

    def run_until_complete(self, awaitable):
        """Run the loop until `awaitable` (a future, or a coroutine run as a
        task) is done; its result."""
        future = awaitable if isinstance(awaitable, Future) else self.create_task(awaitable)
        future.add_done_callback(lambda _: self.stop())
        self.run_forever()
        if not future.done():
            raise RuntimeError("Event loop stopped before Future completed.")
        return future.result()

    def stop(self) -> None:
        """End `run_forever` after the current turn."""
        self._stopping = True

    def is_running(self) -> bool:
        return self._running

    def close(self) -> None:
        """Give back the signals and the descriptors the loop opened."""
        for sig in list(self._signals):
            self.remove_signal_handler(sig)
        if self._wake is not None:
            for s in self._wake:
                s.close()
            self._wake = None
        self._readers.clear()
        self._writers.clear()
        self._masks.clear()
        self._ready.clear()
        self._timers.clear()
        self._ep.close()

    # ------------------------------------------------------------ sockets

    async def _wait(self, add, remove, fd: int) -> None:
        future = self.create_future()
        add(fd, _set_if_pending, future)
        try:
            await future
        finally:
            remove(fd)

    async def sock_connect(self, sock: socket.socket, address) -> None:
        try:
            sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass
        await self._wait(self.add_writer, self.remove_writer, sock.fileno())
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, f"Connect call failed {address!r}: {os.strerror(err)}")

    async def sock_sendall(self, sock: socket.socket, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view):]
            except (BlockingIOError, InterruptedError):
                await self._wait(self.add_writer, self.remove_writer, sock.fileno())

    async def sock_recv(self, sock: socket.socket, n: int) -> bytes:
        while True:
            try:
                return sock.recv(n)
            except (BlockingIOError, InterruptedError):
                await self._wait(self.add_reader, self.remove_reader, sock.fileno())


def get_running_loop() -> Reactor:
    """The reactor running in this thread (asyncio's function, for code
    that runs on a reactor without being handed it); RuntimeError if none."""
    loop = _running.get(get_ident())
    if loop is None:
        raise RuntimeError("no running reactor")
    return loop


def run(main, *, report=None):
    """Run the coroutine `main` on a fresh reactor until it is done, close
    the reactor and return its result (asyncio.run's part the bridges use)."""
    loop = Reactor(report)
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


def _set_if_pending(future: Future) -> None:
    if not future.done():
        future.set_result(None)
