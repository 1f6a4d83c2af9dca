"""Launching one child process from a `ChildPlan`.

Two roads, chosen per plan (docs/design/spawning.md):

* the fast path, `os.posix_spawn` (glibc uses CLONE_VFORK: no page-table
  copy, so the cost does not grow with init's heap): new session, the
  standard fds and fd 9 through file actions, every other fd of init
  close-on-exec (one `close_range` call), every signal disposition
  reset and an empty mask, the umask and working directory set on init
  around the call (init is single threaded); exec failures come back
  synchronously as `OSError`;
* the fork path, for plans that need code in the child (limits, nice, OOM,
  chroot, setuid/setgid, AppArmor, `console owner`, ptrace, debug): `os.fork()` with every signal blocked, the set-up steps
  in upstream's order, and errors sent back through a close-on-exec status
  pipe that the parent reads to EOF before returning.

Either way the call returns only once the exec has succeeded (or raises
`SpawnError` with upstream's reason text), so "exec succeeded" is known
before the child's exit can be reaped. This module must never reap anything
but a child whose set-up failed, and never uses `subprocess`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import grp
import os
import pwd
import resource
import signal
import stat
import termios
import time

from upstart.core.effects import SpawnError
from upstart.process import ptrace
from upstart.process.command import SCRIPT_FD, SHELL, exec_path
from upstart.process.setup import ChildPlan, oom_legacy_value

# glibc reserves signals 32 and 33 and will not let `signal()` touch them, but a
# disposition of SIG_IGN inherited from whoever started init would pass on to
# every job. We reset them with the raw system call, only when they are ignored.
_SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}.get(os.uname().machine)
_LIBC = ctypes.CDLL(None, use_errno=True)
_RESERVED_SIGNALS = (32, 33)


def reset_reserved_signals() -> None:
    """Set glibc's reserved signals back to SIG_DFL where they are SIG_IGN."""
    if _SYS_RT_SIGACTION is None:
        return
    for sig in _RESERVED_SIGNALS:
        old = (ctypes.c_ulong * 4)()
        if _LIBC.syscall(_SYS_RT_SIGACTION, sig, None, ctypes.byref(old), 8) != 0:
            continue
        if old[0] == 1:  # SIG_IGN
            new = (ctypes.c_ulong * 4)(0, 0, 0, 0)  # SIG_DFL, no flags, empty mask
            _LIBC.syscall(_SYS_RT_SIGACTION, sig, ctypes.byref(new), None, 8)


_DEFAULTED_SIGNALS = tuple(sorted(
    set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}))
_WALL = 0x40000000
FORK_RETRIES = 3
_SKIP_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.ESTALE, errno.ENODEV, errno.ETIMEDOUT}


class ChildFailure(Exception):
    """A set-up step failed in the child; `reason` is upstream's text."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _why(what: str, err: OSError) -> str:
    return f"{what}: {os.strerror(err.errno) if err.errno else err}"


# ------------------------------------------------------------------ stdio

def open_console(mode: str) -> tuple[int, ...] | str:
    """The fds for stdin/stdout/stderr of `console none|output` (opened in
    the parent, close-on-exec); for `output`, a failure returns the warning
    text and the caller falls back to `none`."""
    if mode == "output":
        try:
            con = os.open("/dev/console", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as err:
            return f"Failed to open system console: {os.strerror(err.errno)}"
        return (con, con, con)
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    return (null, null, null)


# ----------------------------------------------------------- fast path

# close_range(2) has one number on these architectures; CLOSE_RANGE_CLOEXEC
# (Linux 5.11) marks the range close-on-exec instead of closing it
_SYS_CLOSE_RANGE = {"x86_64": 436, "aarch64": 436, "armv7l": 436, "i686": 436,
                    "riscv64": 436, "ppc64le": 436, "s390x": 436}.get(os.uname().machine)
_CLOSE_RANGE_CLOEXEC = 4
_close_range_works = _SYS_CLOSE_RANGE is not None


def _cloexec_from_3() -> bool:
    """Mark every fd of init from 3 up close-on-exec, in one call; False when
    the kernel cannot (then `_inheritable_fds` finds the ones to close).

    perf: the scan costs a fcntl per open fd for every spawn (init holds a pty
    per job with a log, so starting N jobs cost N^2/2 calls). For the child
    the result is the same: no fd from 3 up survives the exec unless a file
    action dup2s it there. In init, an fd left inheritable (one it inherited,
    one received with a message) becomes close-on-exec; what init passes on
    at a re-exec is made inheritable just before the exec."""
    global _close_range_works
    if not _close_range_works:
        return False
    if _LIBC.syscall(ctypes.c_long(_SYS_CLOSE_RANGE), ctypes.c_uint(3),
                     ctypes.c_uint(0xFFFFFFFF), ctypes.c_uint(_CLOSE_RANGE_CLOEXEC)) == 0:
        return True
    _close_range_works = False          # ENOSYS/EINVAL: an older kernel
    return False


def _inheritable_fds(keep: set[int]) -> list[int]:
    out = []
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for name in names:
        fd = int(name)
        if fd in keep:
            continue
        try:
            if not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                out.append(fd)
        except OSError:
            pass
    return out


def _resolve(file: str, env: dict[str, str]) -> str:
    """`execvp`'s search, done in the parent for the fast path."""
    if "/" in file:
        return file
    denied = False
    for d in exec_path(env):
        path = os.path.join(d, file)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK):
            return path
        denied = True
    code = errno.EACCES if denied else errno.ENOENT
    raise OSError(code, os.strerror(code))


def spawn_fast(plan: ChildPlan, stdio: tuple[int, int, int], script_fd: int | None) -> int:
    actions: list[tuple] = []
    for target, src in enumerate(stdio):
        actions.append((os.POSIX_SPAWN_DUP2, src, target))
    keep = {0, 1, 2}
    if script_fd is not None:
        actions.append((os.POSIX_SPAWN_DUP2, script_fd, SCRIPT_FD))
        keep.add(SCRIPT_FD)
    if plan.notify_pipe is not None:   # readiness (issue #8): `notify-fd N`
        keep.add(plan.notify_fd)
    if not _cloexec_from_3():
        for fd in _inheritable_fds(keep):
            actions.append((os.POSIX_SPAWN_CLOSE, fd))
    if plan.notify_pipe is not None:   # readiness: last, after every source was used
        actions.append((os.POSIX_SPAWN_DUP2, plan.notify_pipe, plan.notify_fd))
    # init is single threaded: its own umask and working directory can be set
    # for the duration of the call (the child inherits both) and restored
    old_umask = os.umask(plan.umask) if plan.umask is not None and plan.full_setup else None
    old_cwd = None
    moved = _enter_cgroups(plan.track_procs)   # so is its cgroup (tracking.md)
    try:
        if plan.full_setup and plan.chdir is not None:
            old_cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.chdir(plan.chdir)
            except OSError as err:
                raise SpawnError(_why("unable to change working directory", err)) from None
        try:
            path = _resolve(plan.argv[0], plan.env)
            return os.posix_spawn(path, list(plan.argv), plan.env, file_actions=actions,
                                  setsid=True, setsigmask=(), setsigdef=_DEFAULTED_SIGNALS)
        except OSError as err:
            if err.errno != errno.ENOEXEC:
                raise SpawnError(_why("unable to execute", err)) from None
        try:   # execvp runs files without a #! line through the shell
            return os.posix_spawn(SHELL, [SHELL, path, *plan.argv[1:]], plan.env,
                                  file_actions=actions, setsid=True, setsigmask=(),
                                  setsigdef=_DEFAULTED_SIGNALS)
        except OSError as err:
            raise SpawnError(_why("unable to execute", err)) from None
    finally:
        if moved:
            _enter_cgroups(plan.track_home)
        if old_umask is not None:
            os.umask(old_umask)
        if old_cwd is not None:
            os.fchdir(old_cwd)
            os.close(old_cwd)


def _enter_cgroups(procs_files: tuple[str, ...]) -> bool:
    """Move init into the cgroups of these `cgroup.procs` files (tracking.md:
    the child of posix_spawn is born there; no limits apply to a tracking
    cgroup, so nothing of init is charged against a job's limits). A failure
    leaves init where it is; True if it moved at all."""
    moved = False
    for procs in procs_files:
        try:
            fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            os.write(fd, b"0")
            moved = True
        except OSError:
            pass
        finally:
            os.close(fd)
    return moved


# ----------------------------------------------------------- fork path

def spawn_forked(plan: ChildPlan, stdio: tuple[int, int, int] | None,
                 script_fd: int | None) -> int:
    """Fork, run the set-up in the child, wait for exec (or its error)."""
    rfd, wfd = os.pipe()   # both close-on-exec
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        pid = _fork(rfd, wfd)
        if pid == 0:   # pragma: no cover - runs in the child
            try:
                os.close(rfd)
                _child(plan, stdio, script_fd, wfd)
                reason = "unable to execute: unknown error"
            except ChildFailure as failure:
                reason = failure.reason
            except BaseException as exc:   # noqa: BLE001 - never return to the caller
                reason = f"unable to execute: {exc}"
            try:
                os.write(wfd, reason.encode(errors="replace"))
            finally:
                os._exit(255)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    os.close(wfd)
    chunks = []
    try:
        while True:
            try:
                data = os.read(rfd, 4096)
            except InterruptedError:
                continue
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(rfd)
    if chunks:
        _reap_failed(pid)
        raise SpawnError(b"".join(chunks).decode(errors="replace"))
    return pid


def _fork(rfd: int, wfd: int) -> int:
    """fork(), retrying a few times on a temporary failure (EAGAIN/ENOMEM)."""
    for attempt in range(FORK_RETRIES):
        try:
            return os.fork()
        except (BlockingIOError, MemoryError, OSError) as err:
            if attempt == FORK_RETRIES - 1 or getattr(err, "errno", None) not in (
                    errno.EAGAIN, errno.ENOMEM, None):
                os.close(rfd)
                os.close(wfd)
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _reap_failed(pid: int) -> None:
    while True:
        try:
            _, status = os.waitpid(pid, _WALL)
        except InterruptedError:
            continue
        except ChildProcessError:
            return
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return


def _child(plan: ChildPlan, stdio, script_fd: int | None, wfd: int) -> None:   # pragma: no cover
    """Upstream's order (spec 01 §9). Raises ChildFailure; returns only if
    exec itself did not happen."""
    signal.set_wakeup_fd(-1)
    if wfd in (0, 1, 2, SCRIPT_FD):
        wfd = _move_high(wfd)
    if script_fd is not None and script_fd != SCRIPT_FD:
        try:
            os.dup2(script_fd, SCRIPT_FD)
        except OSError as err:
            raise ChildFailure(_why("unable to move script fd", err)) from None
        script_fd = SCRIPT_FD
    elif script_fd == SCRIPT_FD:
        os.set_inheritable(SCRIPT_FD, True)

    os.setsid()
    if plan.console == "owner":
        try:
            con = os.open("/dev/console", os.O_RDWR)
            fcntl.ioctl(con, termios.TIOCSCTTY, 1)
        except OSError as err:
            raise ChildFailure(_why("unable to open console", err)) from None
        stdio = (con, con, con)
    assert stdio is not None
    for target, src in enumerate(stdio):
        if src != target:
            os.dup2(src, target)
        else:
            os.set_inheritable(target, True)
    env = plan.env
    passed: set[int] = set()
    if plan.fds:
        wfd, passed, env = _pass_fds(plan, wfd)
    if plan.notify_pipe is not None:   # readiness (issue #8): `notify-fd N`
        if wfd == plan.notify_fd:
            wfd = fcntl.fcntl(wfd, fcntl.F_DUPFD_CLOEXEC, plan.notify_fd + 1)
        os.dup2(plan.notify_pipe, plan.notify_fd)
        passed.add(plan.notify_fd)
    keep = sorted({0, 1, 2, wfd} | passed | ({SCRIPT_FD} if script_fd is not None else set()))
    low = 0
    for fd in keep:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)

    # cgroups (issue #9): join the job's cgroups before anything else is charged
    for procs in plan.cgroup_procs + plan.track_procs:
        _join_cgroup(procs)

    if plan.apparmor:
        try:
            with open(f"/proc/{os.getpid()}/attr/exec", "w") as f:
                f.write(f"exec {plan.apparmor}\n")
        except OSError as err:
            raise ChildFailure(_why("unable to switch security profile", err)) from None

    if plan.full_setup:
        _setup_identity(plan, script_fd)

    for sig in _DEFAULTED_SIGNALS:
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    reset_reserved_signals()
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    if plan.debug:
        os.close(wfd)
        os.kill(os.getpid(), signal.SIGSTOP)
    if plan.trace:
        try:
            ptrace.traceme()
        except OSError as err:
            raise ChildFailure(_why("unable to set trace", err)) from None
    _execvp(plan.argv, env)


def _pass_fds(plan: ChildPlan, wfd: int) -> tuple[int, set[int], dict[str, str]]:   # pragma: no cover
    """Socket activation: the `UPSTART_FDS` fds stay open at their numbers
    (upstream) and copies are placed at 3, 4, ... with `LISTEN_FDS` and
    `LISTEN_PID` set (systemd's convention, spec 07 §8)."""
    top = 10 + len(plan.fds)
    wfd = fcntl.fcntl(wfd, fcntl.F_DUPFD_CLOEXEC, top)
    temps, passed = [], set()
    for fd in plan.fds:
        try:   # an fd that is not open is skipped (upstream ignores it too)
            temps.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, top))
            os.set_inheritable(fd, True)
        except OSError:
            continue
        passed.add(fd)
    for i, tmp in enumerate(temps):
        os.dup2(tmp, 3 + i)            # inheritable copy
        passed.add(3 + i)
    env = dict(plan.env)
    env["LISTEN_FDS"] = str(len(temps))
    env["LISTEN_PID"] = str(os.getpid())
    return wfd, passed, env


def _setup_identity(plan: ChildPlan, script_fd: int | None) -> None:   # pragma: no cover
    for name, num, soft, hard in plan.limits:
        try:
            resource.setrlimit(num, (soft, hard))
        except (OSError, ValueError) as err:
            text = os.strerror(err.errno) if isinstance(err, OSError) else "Invalid argument"
            raise ChildFailure(f'unable to set "{name}" resource limit: {text}') from None
    if plan.umask is not None:
        os.umask(plan.umask)
    if plan.nice is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, plan.nice)
        except OSError as err:
            raise ChildFailure(_why("unable to set priority", err)) from None
    if plan.oom_score:
        _write_oom(plan.oom_score)
    if plan.session_root:   # a chroot session's job: its root first (spec 01 §9 step 4)
        try:
            os.chroot(plan.session_root)
        except OSError as err:
            raise ChildFailure(_why("unable to change root directory", err)) from None
    if plan.chroot:         # then its own `chroot`, resolved inside the session's root
        try:
            os.chroot(plan.chroot)
        except OSError as err:
            raise ChildFailure(_why("unable to change root directory", err)) from None
    if plan.chdir is not None:
        try:
            os.chdir(plan.chdir)
        except OSError as err:
            raise ChildFailure(_why("unable to change working directory", err)) from None

    pw = gr = None
    uid = gid = -1
    if plan.setuid:
        try:
            pw = pwd.getpwnam(plan.setuid)
        except KeyError:
            raise ChildFailure("unable to find setuid user") from None
        uid, gid = pw.pw_uid, pw.pw_gid
    if plan.setgid:
        try:
            gr = grp.getgrnam(plan.setgid)
        except KeyError:
            raise ChildFailure("unable to find setgid group") from None
        gid = gr.gr_gid
    if script_fd is not None and (uid != -1 or gid != -1):
        try:
            os.fchown(script_fd, uid, gid)
        except OSError as err:
            raise ChildFailure(_why("unable to chown", err)) from None
    if os.geteuid() == 0:
        if pw is None:
            try:
                pw = pwd.getpwuid(os.geteuid())
            except KeyError:
                raise ChildFailure("unable to getpwuid: No such file or directory") from None
        # upstream passes getegid() (root's group) when no setgid is given, which
        # leaves group 0 in a setuid job's groups; we pass the job's own gid
        group_id = gid if gid != -1 else None
        if group_id is None:
            try:
                group_id = grp.getgrgid(os.getegid()).gr_gid
            except KeyError:
                raise ChildFailure("unable to getgrgid: No such file or directory") from None
        try:
            os.initgroups(pw.pw_name, group_id)
        except OSError as err:
            raise ChildFailure(_why("unable to initgroups", err)) from None
    if gid != -1:
        try:
            os.setgid(gid)
        except OSError as err:
            raise ChildFailure(_why("unable to setgid", err)) from None
    if uid != -1:
        try:
            os.setuid(uid)
        except OSError as err:
            raise ChildFailure(_why("unable to setuid", err)) from None


def _write_oom(score: int) -> None:   # pragma: no cover
    pid = os.getpid()
    path, value = f"/proc/{pid}/oom_score_adj", score
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        path, value = f"/proc/{pid}/oom_adj", oom_legacy_value(score)
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as err:
            raise ChildFailure(_why("unable to set oom adjustment", err)) from None
    except OSError as err:
        raise ChildFailure(_why("unable to set oom adjustment", err)) from None
    try:
        os.write(fd, b"%d\n" % value)
    except OSError as err:
        raise ChildFailure(_why("unable to set oom adjustment", err)) from None
    finally:
        os.close(fd)


def _join_cgroup(procs: str) -> None:   # pragma: no cover - runs in the child
    """cgroups (issue #9): move this process into the cgroup whose
    `cgroup.procs` file is `procs`. A failure is not fatal (the roadmap's rule:
    the stanza degrades, the job runs); the manager has already warned about
    anything it could not create."""
    try:
        fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, b"0")
    except OSError:
        pass
    finally:
        os.close(fd)


def _move_high(fd: int) -> int:   # pragma: no cover
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


def _execvp(argv: tuple[str, ...], env: dict[str, str]) -> None:   # pragma: no cover
    """glibc's execvp against the job's own PATH (after chroot/chdir)."""
    file = argv[0]
    candidates = [file] if "/" in file else [os.path.join(d, file) for d in exec_path(env)]
    saved: OSError | None = None
    for path in candidates:
        try:
            os.execve(path, list(argv), env)
        except OSError as err:
            if err.errno == errno.ENOEXEC:
                try:
                    os.execve(SHELL, [SHELL, path, *argv[1:]], env)
                except OSError as err2:
                    raise ChildFailure(_why("unable to execute", err2)) from None
            if err.errno == errno.EACCES:
                saved = err
                continue
            if err.errno in _SKIP_ERRNOS and len(candidates) > 1:
                continue
            raise ChildFailure(_why("unable to execute", err)) from None
    err = saved or OSError(errno.ENOENT, os.strerror(errno.ENOENT))
    raise ChildFailure(_why("unable to execute", err))
