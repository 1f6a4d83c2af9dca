"""Compact records: an event's three records as tuples until they are sealed.

Every emitted event makes three records (`event-queued`, `event-handled`,
`event-finished`, see `recorder`). Kept as dicts until their batch is sealed
and encoded by the C JSON encoder, they cost a dict each and the encoder's
walk of it (issue #23 item 5: a third of init's CPU time per pipelined
`EmitEvent`). Here they are tuples, `(kind, seq, mono, wall, *fields)` with
the fields of `FIELDS[kind]` in order, and their JSON line is formatted from
a template: the same text, byte for byte, as the C encoder's of the dict
(`as_dict`), which the queries see (`History` converts when it reads).

The text: numbers as `repr` gives them (the encoder's own for int and
float), strings by `json.encoder.encode_basestring_ascii` (the encoder's
escape), `failed` as true/false, `by` (a dict) by the C encoder, its text
kept by the dict's identity for the callers' dicts, which never change
(`type` emit). Anything else (a value of another type) raises, and
`encode_lines` encodes that record's dict the usual way instead.

Owns: the tuple layout and its templates. Never: I/O.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _esc

from upstart.observe import jsonlog

QUEUED, HANDLED, FINISHED = "event-queued", "event-handled", "event-finished"
FIELDS = {QUEUED: ("id", "name", "env", "by"), HANDLED: ("id", "name"),
          FINISHED: ("id", "name", "env", "failed")}
_TEMPLATE = {
    QUEUED: '{"seq":%d,"mono":%r,"wall":%r,"kind":"event-queued","id":%d,"name":%s,'
            '"env":%s,"by":%s}\n',
    HANDLED: '{"seq":%d,"mono":%r,"wall":%r,"kind":"event-handled","id":%d,"name":%s}\n',
    FINISHED: '{"seq":%d,"mono":%r,"wall":%r,"kind":"event-finished","id":%d,"name":%s,'
              '"env":%s,"failed":%s}\n',
}
_T_QUEUED, _T_HANDLED, _T_FINISHED = _TEMPLATE[QUEUED], _TEMPLATE[HANDLED], _TEMPLATE[FINISHED]
_NAMES: dict[str, str] = {}          # event name -> its JSON text (bounded)
_BYS: dict[int, tuple[dict, str]] = {}   # id(by) -> (by, its JSON text), emit only
_CACHE_MAX = 256


def as_dict(rec: tuple) -> dict:
    """The record as the queries see it (the dict the recorder used to make)."""
    kind = rec[0]
    out = {"seq": rec[1], "mono": rec[2], "wall": rec[3], "kind": kind}
    out.update(zip(FIELDS[kind], rec[4:]))
    return out


def seq_of(rec) -> int:
    return rec[1] if type(rec) is tuple else rec["seq"]


def _name(name: str) -> str:
    text = _NAMES.get(name)
    if text is None:
        if type(name) is not str:
            raise TypeError(name)
        text = _esc(name)
        if len(_NAMES) >= _CACHE_MAX:
            _NAMES.clear()
        _NAMES[name] = text
    return text


def _env(env) -> str:
    if type(env) is not list:
        raise TypeError(env)
    if not env:
        return "[]"
    return "[" + ",".join(map(_esc, env)) + "]"     # (TypeError if one is no str)


def _by(by) -> str:
    if type(by) is not dict:
        raise TypeError(by)
    hit = _BYS.get(id(by))
    if hit is not None and hit[0] is by:
        return hit[1]
    text = "".join(jsonlog.C_ENCODER(by, 0))
    if by.get("type") == "emit":      # a caller's, never changed (observe/service.py)
        if len(_BYS) >= _CACHE_MAX:
            _BYS.clear()
        _BYS[id(by)] = (by, text)
    return text


def encode(rec: tuple) -> str:
    """The JSON line of a compact record (raises on a value it cannot format)."""
    kind, seq, mono, wall, ident, name = rec[:6]
    # ints, and finite floats (`x - x` is nan for inf and nan: the encoder
    # writes those as Infinity and NaN, `repr` as inf and nan)
    if (type(seq) is not int or type(ident) is not int or type(mono) is not float
            or type(wall) is not float or mono - mono != 0.0 or wall - wall != 0.0):
        raise TypeError(rec)
    text = _NAMES.get(name)
    if text is None:
        text = _name(name)
    if kind == HANDLED:
        return _T_HANDLED % (seq, mono, wall, ident, text)
    env = rec[6]
    env = "[]" if env == [] else _env(env)
    if kind == QUEUED:
        return _T_QUEUED % (seq, mono, wall, ident, text, env, _by(rec[7]))
    failed = rec[7]
    if failed is not True and failed is not False:
        raise TypeError(failed)
    return _T_FINISHED % (seq, mono, wall, ident, text, env, "true" if failed else "false")


def encode_lines(records: list) -> list[bytes]:
    """Each record (a dict or a compact tuple) as its UTF-8 line, in order; a
    record that cannot be serialised is left out (as `jsonlog.encode_lines`)."""
    if jsonlog.C_ENCODER is None:
        return jsonlog.encode_lines([as_dict(r) if type(r) is tuple else r for r in records])
    out: list[str] = []
    dicts: list = []
    for rec in records:
        if type(rec) is tuple:
            try:
                text = encode(rec)
            except Exception:
                rec = as_dict(rec)
            else:
                if dicts:
                    out.extend(_texts(dicts))
                    dicts = []
                out.append(text)
                continue
        dicts.append(rec)
    if dicts:
        out.extend(_texts(dicts))
    # one encode for the batch; a JSON line holds no raw newline or CR
    # (the encoder escapes them), so the split gives back the lines
    return "".join(out).encode().splitlines(keepends=True)


def _texts(records: list) -> list[str]:
    return [line.decode() for line in jsonlog.encode_lines(records)]
