"""The file bridge's I/O shell with real inotify and a real control server:
initial creates, live changes, watches moving down as directories appear,
and the rescan used after a queue overflow."""


from waiting import pause, until
from upstart.bridges.common import Log
from upstart.bridges.file import FileBridge
from upstart.bridges.link import Link
from upstart.reactor.loop import get_running_loop, run


def files(backend):
    return [tuple(env) for name, env, _ in backend.emitted if name == "file"]


async def start(server, tmp_path):
    link = Link.open(server.address, Log("t"))
    bridge = FileBridge(link, Log("t"), None)
    get_running_loop().add_reader(bridge.ino.fileno(), bridge.on_readable)
    return link, bridge


def test_initial_create_then_live_changes(server, backend, tmp_path):
    (tmp_path / "a.conf").write_text("x")
    glob = "%s/*.conf" % tmp_path

    async def scenario():
        link, bridge = await start(server, tmp_path)
        bridge.on_job_change("/j/x", "x", [("FILE=" + glob,)])
        await until(lambda: len(files(backend)) == 1)
        (tmp_path / "b.conf").write_text("y")
        (tmp_path / "b.conf").unlink()
        await until(lambda: len(files(backend)) == 3)
        link.close()

    run(scenario())
    assert files(backend) == [
        ("FILE=" + glob, "EVENT=create", "MATCH=%s/a.conf" % tmp_path),
        ("FILE=" + glob, "EVENT=create", "MATCH=%s/b.conf" % tmp_path),
        ("FILE=" + glob, "EVENT=delete", "MATCH=%s/b.conf" % tmp_path)]


def test_watch_moves_down_as_parents_appear(server, backend, tmp_path):
    target = tmp_path / "p" / "q" / "flag"

    async def scenario():
        link, bridge = await start(server, tmp_path)
        bridge.on_job_change("/j/x", "x", [("FILE=%s" % target, "EVENT=create")])
        assert set(bridge.dir_wd) == {str(tmp_path)}
        (tmp_path / "p" / "q").mkdir(parents=True)
        await until(lambda: str(tmp_path / "p" / "q") in bridge.dir_wd)
        target.write_text("x")
        await until(lambda: files(backend))
        bridge.on_job_change("/j/x", "x", [])
        assert bridge.dir_wd == {}
        link.close()

    run(scenario())
    assert files(backend) == [("FILE=%s" % target, "EVENT=create")]


def test_rescan_reports_what_changed_unseen(server, backend, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "old").write_text("")

    async def scenario():
        link, bridge = await start(server, tmp_path)
        get_running_loop().remove_reader(bridge.ino.fileno())   # miss everything
        bridge.on_job_change("/j/x", "x", [("FILE=%s/" % d,)])
        await until(lambda: len(files(backend)) == 1)                  # d itself
        (d / "old").unlink()
        (d / "new").write_text("")
        bridge.ino.read(timeout=0)                                     # as after overflow
        bridge.resync()
        await until(lambda: len(files(backend)) == 3)
        link.close()

    run(scenario())
    # entries of a directory watch: modifications of the directory (as 1.13)
    assert files(backend) == [("FILE=%s/" % d, "EVENT=create"),
                              ("FILE=%s/" % d, "EVENT=modify", "MATCH=%s/new" % d),
                              ("FILE=%s/" % d, "EVENT=modify", "MATCH=%s/old" % d)]


def test_several_jobs_same_watch_emit_once_and_bad_leaves_warn(server, backend, tmp_path,
                                                                capsys):
    flag = tmp_path / "flag"

    async def scenario():
        link = Link.open(server.address, Log("t"))
        bridge = FileBridge(link, Log("t"), None)
        loop = get_running_loop()
        loop.add_reader(bridge.ino.fileno(), bridge.on_readable)
        bridge.on_job_change("/j/a", "a", [("FILE=%s" % flag,)])
        bridge.on_job_change("/j/b", "b", [("FILE=%s" % flag, "EVENT=modify"), ("EVENT=x",)])
        flag.write_text("1")
        await until(lambda: files(backend))
        await pause(0.1)
        link.close()

    run(scenario())
    assert files(backend) == [("FILE=%s" % flag, "EVENT=create")]
    assert "t: Ignored file event without FILE in b\n" in capsys.readouterr().err
