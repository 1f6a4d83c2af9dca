"""Exec a command with a re-exec state arriving late on a pipe, as from 1.13.

    python state_pipe.py DELAY FILE COMMAND [ARG...]

Upstart 1.13 hands its state to the new init through a pipe that a child
process writes. This does the same: a child writes FILE's bytes into the
pipe after DELAY seconds and exits (a negative DELAY: it never writes and
holds the pipe open until killed), and the command is exec'd with
`--restart --state-fd N` appended, N the pipe's read end.
"""

from __future__ import annotations

import os
import signal
import sys
import time

if __name__ == "__main__":
    delay, path, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
    with open(path, "rb") as f:
        data = f.read()
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        if delay < 0:
            signal.pause()
        time.sleep(delay)
        os.write(w, data)
        os._exit(0)
    os.close(w)
    os.set_inheritable(r, True)
    os.execv(argv[0], argv + ["--restart", "--state-fd", str(r)])
