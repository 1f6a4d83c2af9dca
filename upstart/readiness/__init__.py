"""Readiness sources: how init learns that a job's `ready on` condition holds
(issue #8, the sources half; docs/design/readiness.md "Sources").

The core (`upstart/core/readiness.py`) decides when an instance is ready; this
package only watches the world for it:

* `spec`      -- a `file`/`socket`/`dbus` leaf -> what to watch, and the event
  that proves it (pure);
* `filesrc`   -- a path comes to exist (inotify on the nearest directory);
* `socketsrc` -- a listening socket owned by the job (netlink sock_diag);
* `listenbpf` -- listen(2) events from the kernel (a BPF ring buffer), which
  tell `socketsrc` when to look;
* `dbussrc`   -- a bus name gets an owner (NameOwnerChanged + NameHasOwner);
* `adapter`   -- `Readiness`, the daemon's `readiness` object: `watch`/`unwatch`
  from the core's `WatchReady`/`UnwatchReady`, emitting the ordinary events.

The process's own signals (`notify`: NOTIFY_SOCKET; `notify-fd N`: a pipe) are
the process supervisor's business: `upstart/process/notify.py`.

Nothing here is imported at init start-up: the daemon creates `Readiness`,
which creates each source at its first use. Never threads; never polls a file.
"""
