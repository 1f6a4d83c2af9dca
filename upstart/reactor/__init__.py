"""init's own event loop: a small single-threaded reactor (docs/design/reactor.md).

PID 1 used to run on asyncio, which costs a large import on the boot's
critical path (asyncio pulls in logging, concurrent.futures, subprocess,
ssl, ...) for a handful of features. This package is those features and no
more:

* `loop`: the `Reactor` (epoll readers and writers, a heap of timers with
  cancellable handles, `call_soon`, signals through `signal.set_wakeup_fd`,
  the non-blocking socket helpers the bus client uses);
* `futures`: `Future`, `Task`, `CancelledError`, and `sleep`/`wait_for`
  written over the loop's methods only, so that code shared with processes
  that keep asyncio (the bridges, the test servers) works on either loop.

It imports nothing of `upstart`; it never starts a thread.
"""
