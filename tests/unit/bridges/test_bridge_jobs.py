"""Following which jobs wait for an event, against a real control server."""


from waiting import until
from upstart.bridges.common import Log
from upstart.bridges.jobs import JobWatcher
from upstart.bridges.link import Link
from upstart.reactor.loop import run
from membackend import ToyJob

PATH = "/com/ubuntu/Upstart/jobs/"


def test_initial_read_added_and_removed_jobs(server, backend):
    backend.add_job(ToyJob("a", start_on=[["file", "FILE=/x"], ["startup"], ["/OR"]]))
    backend.add_job(ToyJob("plain", start_on=[["startup"]]))
    changes = []

    async def scenario():
        link = Link.open(server.address, Log("t"))
        watcher = JobWatcher(link, "file", lambda *c: changes.append(c), Log("t"))
        await watcher.start()
        assert changes == [(PATH + "a", "a", [("FILE=/x",)])]
        assert watcher.any()
        server.call(backend.add_job, ToyJob("b", stop_on=[["file", "FILE=/y", "EVENT=delete"]]))
        await until(lambda: len(changes) == 2)
        assert changes[1] == (PATH + "b", "b", [("FILE=/y", "EVENT=delete")])
        server.call(backend.remove_job, "a")
        await until(lambda: len(changes) == 3)
        assert changes[2] == (PATH + "a", "a", [])
        server.call(backend.remove_job, "b")
        await until(lambda: not watcher.any())
        link.close()

    run(scenario())


def test_jobs_without_the_event_cause_no_change(server, backend):
    changes = []

    async def scenario():
        link = Link.open(server.address, Log("t"))
        watcher = JobWatcher(link, "socket", lambda *c: changes.append(c), Log("t"))
        await watcher.start()
        server.call(backend.add_job, ToyJob("x", start_on=[["file", "FILE=/x"]]))
        await until(lambda: PATH + "x" in watcher.jobs)
        assert changes == [] and not watcher.any()
        link.close()

    run(scenario())


def test_a_follower_shares_the_leaders_reads(server, backend):
    """`also`: two event names, one GetAll per job (not one per job and name),
    each watcher with its own leaves, added and removed jobs for both."""
    backend.add_job(ToyJob("up", start_on=[["net-device-up", "IFACE=eth0"]]))
    backend.add_job(ToyJob("down", stop_on=[["net-device-down"]]))
    backend.add_job(ToyJob("plain", start_on=[["startup"]]))
    ups, downs, getall = [], [], []

    async def scenario():
        link = Link.open(server.address, Log("t"))
        call = link.call

        def counted(path, iface, member, *args, **kw):
            if member == "GetAll":
                getall.append(path)
            return call(path, iface, member, *args, **kw)
        link.call = counted
        lead = JobWatcher(link, "net-device-up", lambda *c: ups.append(c), Log("t"))
        follower = lead.also("net-device-down", lambda *c: downs.append(c))
        await lead.start()
        await follower.start()                      # nothing more to read
        assert sorted(getall) == [PATH + "down", PATH + "plain", PATH + "up"]
        assert ups == [(PATH + "up", "up", [("IFACE=eth0",)])]
        assert downs == [(PATH + "down", "down", [()])]
        assert lead.any() and follower.any()
        server.call(backend.add_job, ToyJob("both", start_on=[["net-device-up"]],
                                            stop_on=[["net-device-down"]]))
        await until(lambda: len(ups) == 2 and len(downs) == 2)
        assert getall.count(PATH + "both") == 1
        server.call(backend.remove_job, "down")
        await until(lambda: len(downs) == 3)
        assert downs[2] == (PATH + "down", "down", [])
        link.close()

    run(scenario())
