"""Property tests: nothing but ParseError ever escapes the parser."""


from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testdata import shared_dir
from upstart.jobfile.model import JobClass, ParseError
from upstart.jobfile.parser import STANZAS, parse_job



def _samples():
    jobs = shared_dir() / "corpus" / "jobs"     # seeds; without them one made-up job
    if not jobs.is_dir():
        return ["start on a or (b and c)\nscript\n  echo 'x'\nend script\nexec x \\\n y\n"]
    files = sorted(p for p in jobs.rglob("*") if p.is_file())[:200]
    return [p.read_bytes().decode("utf-8", "surrogateescape") for p in files]


SAMPLES = _samples()
PIECES = list(STANZAS) + ["on", "exec", "script", "end script", "and", "or", "(", ")",
                          "\\", "\\\n", "\n", '"', "'", "#", " ", "\t", "\0", "=", "!=",
                          "limit", "unlimited", "never", "score", "signal", "timeout"]


def _parse_or_error(text):
    try:
        result = parse_job(text, "fuzz", path="/f.conf")
    except ParseError as err:
        assert err.message and err.path == "/f.conf"
        assert err.line is None or err.line >= 1
        return
    assert isinstance(result, JobClass)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text(text):
    _parse_or_error(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_stanza_soup(text):
    _parse_or_error(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_corpus_files(sample, data):
    text = sample
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "truncate"]))
        if op == "insert":
            text = text[:pos] + data.draw(st.sampled_from(PIECES)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + data.draw(st.integers(1, 5)):]
        else:
            text = text[:pos]
    _parse_or_error(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_overrides_never_mutate_base(text):
    base = parse_job("start on ev\nenv A=1\nemits x\n", "o")
    before = repr(base)
    try:
        parse_job(text, "o", path="/o.override", base=base)
    except ParseError:
        pass
    assert repr(base) == before
