"""Process supervision: how init starts, watches, logs and signals job processes.

The package is the daemon's only door to `fork`/`exec`/`waitpid`/`ptrace`.
`supervisor.Supervisor` is the public face (docs/design/interfaces.md §3);
the other modules are its parts, each named for one concept:

* `command`   – turning a `Process` stanza into an argv (+ script data);
* `setup`     – the child-side set-up recipe (what the child must do before exec);
* `launch`    – starting a child: `posix_spawn` fast path or fork path;
* `joblog`    – `console log`: pty reading and the per-job log file;
* `ptrace`    – the raw ptrace(2) calls via ctypes;
* `tracer`    – `expect fork|daemon`: following a process tree until it settles;
* `notes`     – what `Supervisor.reap()` reports;
* `harness`   – a synchronous driver (loop + SIGCHLD) for tests and benchmarks.

Nothing here knows about job states or goals: that is the core's business.
"""
