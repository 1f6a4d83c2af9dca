"""Observability: seeing what init did and why (issue #12).

* `recorder` (pure): turns what the daemon shell sees (engine effects, the
  input that caused them, spawns, exits) into structured records and keeps
  the causal links between events, goals and emitters.
* `why` (pure): the causal chain behind a job's goal, as a tree and as text.
* `timeline` (pure): per-instance spans since boot, the critical chain, SVG.
* `dot` (pure): the job/event graph of `initctl2dot` in graphviz syntax.
* `history` (pure): the records in memory, bounded in bytes, older ones
  read back from the file; `compact` (pure): an event's records as tuples
  and their JSON lines from templates (issue #23 item 5).
* `jsonlog` (I/O): the size-rotated JSON-lines file of records.
* `service` (daemon glue): wires the recorder into the daemon and answers the
  `Observe` D-Bus method.

Nothing here changes what the engine decides: the package only watches.
"""
