"""States: named conditions that are true or false over time, and `while`.

A pure package (docs/design/states.md): it imports only `upstart.jobfile`
and itself, performs no I/O and reads no clock.

* `model`: a `State`, the `StateTable` of states set by name, the names
  kept by jobs (`running`, `ready`);
* `condition`: matching a `while` leaf against a state, the witnesses of a
  condition tree;
* `derive`: the job-derived states (`running`/`ready JOB= INSTANCE=`) from
  a view of the running instances;
* `plan`: `plan_whiles`, which computes which `while` instances to start
  and stop; the core carries the plan out (goals, limits, gates).
"""
