"""The rulebook cache (traindx.rules.cache) and libyaml parsing (traindx.rules.parse): a hit
is the same rulebook as a fresh parse, and nothing stale, corrupt or foreign is ever used."""

import os
import pickle
import shutil

import pytest
import yaml

from traindx.errors import RulebookError
from traindx.rules import cache, parse
from traindx.rules.loader import builtin_dir, load_rulebook


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("TRAINDX_CACHE_DIR", str(d))
    monkeypatch.delenv("TRAINDX_NO_CACHE", raising=False)
    monkeypatch.setattr(cache, "_memo", {})
    return d


def _entries(d):
    return sorted(d.glob("rulebook-*.pickle"))


def _no_parsing(monkeypatch):
    def boom(path):
        raise AssertionError(f"{path} was parsed although the rulebook was cached")

    monkeypatch.setattr(parse, "load_file", boom)


def _fresh(monkeypatch, **kw):
    with monkeypatch.context() as m:
        m.setenv("TRAINDX_NO_CACHE", "1")
        m.setattr(cache, "_memo", {})
        return load_rulebook(**kw)


def test_a_cache_hit_is_the_rulebook_a_fresh_parse_gives(cache_dir, monkeypatch):
    fresh = _fresh(monkeypatch)
    first = load_rulebook()
    assert len(_entries(cache_dir)) == 1
    monkeypatch.setattr(cache, "_memo", {})  # a new process: only the file is left
    _no_parsing(monkeypatch)
    hit = load_rulebook()
    assert hit is not first and hit.model_dump_json() == fresh.model_dump_json() == first.model_dump_json()
    assert [s.code for s in hit.symptoms] == [s.code for s in fresh.symptoms]
    assert [s.condition.groups for s in hit.symptoms] == [s.condition.groups for s in fresh.symptoms]
    # a copy per call: changing one loaded rulebook does not change the next
    hit.symptoms.clear()
    assert len(load_rulebook().symptoms) == len(fresh.symptoms)


def test_a_changed_rule_file_invalidates_the_cache(cache_dir, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    shutil.copytree(builtin_dir(), rules)
    before = load_rulebook([rules], builtin=False)
    code = before.symptoms[0].code
    f = next(p for p in rules.rglob("*.yaml") if f"code: {code}" in p.read_text())
    text = f.read_text()
    old = before.symptoms[0].summary
    f.write_text(text.replace(f"summary: {old}", "summary: a summary edited after caching", 1))
    monkeypatch.setattr(cache, "_memo", {})
    after = load_rulebook([rules], builtin=False)
    assert after.symptom(code).summary == "a summary edited after caching"
    assert len(_entries(cache_dir)) == 2
    f.write_text(text)  # back as it was: the first entry serves again, nothing parsed
    monkeypatch.setattr(cache, "_memo", {})
    _no_parsing(monkeypatch)
    assert load_rulebook([rules], builtin=False).symptom(code).summary == old


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_corrupt_cache_entry_is_ignored_and_replaced(cache_dir, monkeypatch, damage):
    good = load_rulebook()
    (entry,) = _entries(cache_dir)
    data = entry.read_bytes()
    bad = {
        "truncate": data[: len(data) // 2],
        "flip": data[:-100] + bytes([data[-100] ^ 0x40]) + data[-99:],
        "garbage": os.urandom(len(data)),
        "empty": b"",
    }[damage]
    entry.write_bytes(bad)
    monkeypatch.setattr(cache, "_memo", {})
    assert load_rulebook().model_dump_json() == good.model_dump_json()
    assert entry.read_bytes() == data  # rewritten


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_an_entry_that_unpickles_to_anything_but_rule_models_is_refused(cache_dir, monkeypatch, tmp_path):
    """A well-formed entry (right key, right digest) whose payload calls a function is not
    unpickled: only the rule model's classes may appear in an entry."""
    import hashlib

    monkeypatch.chdir(tmp_path)
    good = load_rulebook()
    (entry,) = _entries(cache_dir)
    key = entry.read_bytes().split(b"\n")[1]
    payload = pickle.dumps(_Payload())
    entry.write_bytes(cache.MAGIC + key + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    monkeypatch.setattr(cache, "_memo", {})
    assert load_rulebook().model_dump_json() == good.model_dump_json()
    assert not (tmp_path / "pwned.txt").exists()


def test_an_unwritable_cache_dir_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TRAINDX_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(cache, "_memo", {})
    book = load_rulebook()
    assert book.symptoms and not (blocker / "cache").exists()


def test_a_cache_dir_others_may_write_is_not_read(cache_dir, monkeypatch):
    load_rulebook()
    os.chmod(cache_dir, 0o777)
    monkeypatch.setattr(cache, "_memo", {})
    calls = []
    real = parse.load_file
    monkeypatch.setattr(parse, "load_file", lambda p: calls.append(p) or real(p))
    load_rulebook()
    assert calls  # parsed again: the shared directory was not trusted


def test_caching_off_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("TRAINDX_NO_CACHE", "1")
    load_rulebook()
    assert not cache_dir.exists()


def test_user_rulebook_errors_are_reported_the_same_with_a_warm_cache(cache_dir, tmp_path):
    load_rulebook()  # the shipped rulebook cached
    d = tmp_path / "user"
    d.mkdir()
    (d / "bad.yaml").write_text("symptoms:\n  - code: USR001\n    slug: x\n    summary: s\n    severity: loud\n")
    with pytest.raises(RulebookError, match=r"bad\.yaml:5: symptom USR001: severity"):
        load_rulebook([d])
    assert len(_entries(cache_dir)) == 1  # a failed load caches nothing


def test_libyaml_gives_what_the_line_aware_loader_gives_on_every_shipped_file():
    files = sorted(builtin_dir().rglob("*.yaml"))
    assert files
    for f in files:
        text = f.read_text(encoding="utf-8")
        fast = parse._fast(text)
        assert fast is not parse._SLOW, f
        assert fast == yaml.load(text, Loader=parse._LineLoader), f  # noqa: S506


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # an alias
        "a: &x [*x]\n",  # a recursive alias
        "a: " + "[" * 40 + "]" * 40 + "\n",  # nesting deeper than MAX_YAML_DEPTH
        "a: [1, 2\nb: 3\n",  # not valid YAML
        "a: b\u0007c\n",  # a character YAML does not allow
    ],
)
def test_what_libyaml_does_not_vouch_for_goes_to_the_line_aware_loader(text):
    assert parse._fast(text) is parse._SLOW


def test_each_condition_compiles_once_per_process_across_loaded_copies(cache_dir, monkeypatch):
    """A loaded rulebook is a fresh copy each time (above), but its conditions' compiled CEL
    programs are shared by source text: an adapter's diagnosis at the end of every run in one
    process (a sweep, a notebook) does not compile them again; a condition still evaluates as
    one compiled alone does."""
    from traindx.engine import check
    from traindx.rules import _cel, model

    monkeypatch.setattr(model, "_PROGRAMS", {})
    compiles: list[str] = []
    real = _cel.compile

    def counted(source):
        compiles.append(source)
        return real(source)

    monkeypatch.setattr(model.cel, "compile", counted)
    a, b = load_rulebook(), load_rulebook()
    ca, cb = a.symptoms[0].condition, b.symptoms[0].condition
    assert ca is not cb and ca.source == cb.source
    assert ca.program is cb.program and compiles.count(ca.source) <= 1
    n = len(compiles)
    for s in b.symptoms:
        _ = s.condition.program
    assert len(compiles) == len({s.condition.source for s in a.symptoms} - set(compiles[:n])) + n
    for s in a.symptoms:
        _ = s.condition.program  # compiled already by b's
    assert len(compiles) == len(set(compiles))  # no source compiled twice
    facts = {"loss": {"first": 2.3, "peak_raw": 1e5, "explode_step": 30.0}}
    fresh = model.Condition(source=ca.source)
    fresh.__dict__["program"] = real(ca.source)
    assert check(ca, facts) == check(fresh, facts)
    with pytest.raises(ValueError, match="does not parse"):  # validation compiles through the same memo
        model._compile("loss.first >")
    assert "loss.first >" not in model._PROGRAMS
