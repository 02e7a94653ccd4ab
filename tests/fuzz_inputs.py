"""Fuzz inputs for every reader and the CLI, and the oracle that judges a read.

One generator per format builds a log with a known number of points (steps in every order
a real run writes them: increasing, all at 0, reset every epoch, shuffled, reversed,
resumed, at the ends of int64; values including NaN, inf and 1e308), then maybe damages its
bytes (flips, truncation, junk, cut or repeated spans, a bogus record length). Generators
take a ``random.Random``: the hypothesis tests (``tests/test_fuzz.py``) pass one that
hypothesis drives, ``benchmarks/fuzz.py`` a seeded one for long campaigns.

The oracle (:func:`judge`): reading never raises anything but ``TraindxError``; an
undamaged log loses no point without a count (points read + ``ingest.lost()`` == points
written, exactly); a log damaged in place (bytes changed or inserted, not cut off at a line
or record boundary, which no reader can tell from a shorter log) that reads fewer points
says so (a problem, an unmapped name, or an error).
"""

from __future__ import annotations

import json
import math
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from traindx.errors import TraindxError
from traindx.readers import tfrecord as tfr
from traindx.writers.tfevents import _event, _key, _len_field, _varint, frame_records

I64 = 2**63
F32_MAX = 3.4028234663852886e38
IN_PLACE = {"flip", "byte", "junk", "length", "deep"}
#: Names that map onto distinct canonical series (so no two merge into one key).
NAMES = ["loss", "val_loss", "accuracy", "val_accuracy", "lr", "grad_norm"]


@dataclass
class Case:
    kind: str  # tfevents | csv | jsonl | hf
    name: str  # file name
    data: bytes
    points: int  # points of mapped series written
    damaged: bool = False
    ops: tuple[str, ...] = ()  # the damage done

    @property
    def in_place(self) -> bool:
        """Damaged only by changed or inserted bytes: any loss must be detectable."""
        return set(self.ops) <= IN_PLACE


def steps_for(rng: random.Random, n: int) -> list[int]:
    pattern = rng.choice(
        ["inc", "inc", "zero", "reset", "shuffle", "reverse", "resume", "extreme", "sparse"]
    )
    if pattern == "zero":
        return [0] * n
    if pattern == "reset":
        period = rng.randint(1, max(1, n // 2))
        return [i % period for i in range(n)]
    if pattern in ("shuffle", "reverse"):
        s = list(range(n))
        rng.shuffle(s) if pattern == "shuffle" else s.reverse()
        return s
    if pattern == "resume":
        cut = rng.randint(0, n)
        back = rng.randint(0, cut)
        return list(range(cut)) + list(range(back, back + n - cut))
    if pattern == "extreme":
        return [rng.choice([0, 1, I64 - 1, -I64, -1, I64 - 2, 2**53 + 1]) for _ in range(n)]
    if pattern == "sparse":
        return sorted(rng.sample(range(10**6), n))
    return list(range(rng.randint(0, 5), 10**9)[:n])


def value(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.05:
        return rng.choice([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324, 3.5e38])
    return rng.uniform(-10, 10)


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(NAMES, k)


# ----------------------------------------------------------------- formats


def event_case(rng: random.Random) -> Case:
    names = _names(rng, rng.randint(1, 3))
    n = rng.randint(0, 60)
    payloads = [_event(1.0, file_version="brain.Event:2")]
    points = 0
    wall = 1.7e9
    for step in steps_for(rng, n):
        tags = [t for t in names if rng.random() < 0.8] or names[:1]
        body = b""
        for t in tags:
            v = value(rng)
            if abs(v) > F32_MAX and math.isfinite(v):
                v = math.copysign(math.inf, v)
            if rng.random() < 0.2:  # a TF2 rank-0 tensor scalar under the scalars plugin
                meta = _len_field(9, _len_field(1, _len_field(1, b"scalars")))
                ten = _len_field(8, _key(1, 0) + _varint(1) + _len_field(4, struct.pack("<f", v)))
                body += _len_field(1, _len_field(1, t.encode()) + ten + meta)
            else:
                body += _len_field(1, _len_field(1, t.encode()) + _key(2, 5) + struct.pack("<f", v))
            points += 1
        wall += rng.choice([0.01, 0.5, 3600.0])
        st = step % (2**64)  # varint of the two's complement
        ev = struct.pack("<Bd", 0x09, wall) + (_key(2, 0) + _varint(st) if st else b"")
        payloads.append(ev + _len_field(5, body))
    return Case("tfevents", "events.out.tfevents.1700000000.host", frame_records(payloads), points)


def _cell(rng: random.Random, v: float) -> str:
    r = rng.random()
    if r < 0.05:
        return rng.choice(["NA", "", "nan", "tensor(0.5)", "1e999", "9" * 400])
    return repr(v)


def csv_case(rng: random.Random) -> Case:
    names = _names(rng, rng.randint(1, 4))
    axis = rng.choice(["step", "epoch", "global_step", None])
    delim = rng.choice([",", ",", "\t", ";"])
    n = rng.randint(0, 60)
    steps = steps_for(rng, n)
    rows, points = [], 0
    for i in range(n):
        cells = []
        for _ in names:
            c = _cell(rng, value(rng))
            if c.lower() not in ("na", "") and c != "tensor(0.5)":
                points += 1  # 1e999 and 400 nines read as inf: values, not losses
            elif c == "tensor(0.5)":
                points += 1
            cells.append(c)
        rows.append(([str(steps[i])] if axis else []) + cells)
    header = ([axis] if axis else []) + names
    text = delim.join(header) + "\n" + "".join(delim.join(r) + "\n" for r in rows)
    return Case(
        "csv", rng.choice(["metrics.csv", "training.csv", "log.tsv"]), text.encode(), points
    )


def _records(rng: random.Random) -> tuple[list[dict], int]:
    names = _names(rng, rng.randint(1, 4))
    n = rng.randint(0, 60)
    axis = rng.choice(["step", "epoch", "_step", None])
    steps = steps_for(rng, n)
    out = []
    for i in range(n):
        rec: dict = {axis: steps[i]} if axis else {}
        for name in names:
            r = rng.random()
            if r < 0.04:
                rec[name] = None  # not logged
            elif r < 0.07:
                rec[name] = rng.choice([10**400, -(10**30), True, "abc", [1], "1e999", "NaN"])
            else:
                rec[name] = value(rng)
        out.append(rec)
    return out, _points(out, names)


def _points(recs: list[dict], names: list[str]) -> int:
    """Numbers logged, plus non-numbers under a key that has numbers (the reader counts
    those as corrupt; a key with no number at all is not a metric, not a loss)."""
    total = 0
    for name in names:
        vals = [r[name] for r in recs if r.get(name) is not None]
        num = [v for v in vals if _is_number(v)]
        total += len(vals) if num else 0
    return total


def _is_number(v: object) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    return isinstance(v, str) and v in ("1e999", "NaN")


def jsonl_case(rng: random.Random) -> Case:
    recs, points = _records(rng)
    text = "".join(json.dumps(r) + "\n" for r in recs)
    return Case("jsonl", "metrics.jsonl", text.encode(), points)


def hf_case(rng: random.Random) -> Case:
    recs, points = _records(rng)
    doc = {"global_step": 10, "log_history": recs}
    return Case("hf", "trainer_state.json", json.dumps(doc).encode(), points)


GENERATORS = {"tfevents": event_case, "csv": csv_case, "jsonl": jsonl_case, "hf": hf_case}


# ----------------------------------------------------------------- damage


def damage(rng: random.Random, case: Case) -> Case:
    data = bytearray(case.data)
    ops = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["flip", "truncate", "junk", "cut", "repeat", "length", "deep", "byte"])
        if case.kind == "tfevents" and rng.random() < 0.5:
            op = "payload"  # damage inside a record with its checksums made right again
        ops.append(op)
        n = len(data)
        at = rng.randint(0, n)
        if op == "flip" and n:
            data[min(at, n - 1)] ^= 1 << rng.randint(0, 7)
        elif op == "byte" and n:
            data[min(at, n - 1)] = rng.choice(b'\x00\n\r,"{}[]\xff\x1b9e.-')
        elif op == "truncate":
            del data[at:]
        elif op == "junk":
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        elif op == "cut":
            del data[at : at + rng.randint(1, 64)]
        elif op == "repeat":
            data[at:at] = data[at : at + rng.randint(1, 200)]
        elif op == "deep":
            data[at:at] = b"[" * rng.choice([10, 5000, 200000])
        elif op == "payload":
            data = bytearray(_damage_payload(rng, bytes(data)))
        elif op == "length" and case.kind == "tfevents" and n > 16:
            raw = struct.pack("<Q", rng.choice([10**9, 2**40, rng.randint(0, n)]))
            at = min(at, n - 12)
            data[at : at + 12] = raw + struct.pack("<I", tfr.masked_crc32c(raw))
    return Case(case.kind, case.name, bytes(data), case.points, damaged=True, ops=tuple(ops))


def _damage_payload(rng: random.Random, data: bytes) -> bytes:
    """Change one record's bytes and recompute its CRCs: the protobuf decoder sees garbage."""
    buf = np.zeros((len(data) + 64) // 8 * 8, dtype=np.uint8)  # as tfr.load lays a file out
    buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    base, n = 0, len(data)
    fr = tfr.frame(buf, base, n)
    if fr.starts.size < 2:
        return data
    recs = [
        data[s + 12 : s + 12 + ln]
        for s, ln in zip((fr.starts - base).tolist(), fr.lengths.tolist(), strict=True)
    ]
    k = rng.randrange(1, len(recs))
    rec = bytearray(recs[k])
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(rec))
        how = rng.choice(["flip", "set", "insert", "delete"])
        if how == "flip" and rec:
            rec[min(at, len(rec) - 1)] ^= 1 << rng.randint(0, 7)
        elif how == "set" and rec:
            rec[min(at, len(rec) - 1)] = rng.choice([0, 0x7F, 0x80, 0xFF, 0x0A, 0x12, 0x42, 0x08])
        elif how == "insert":
            rec[at:at] = rng.randbytes(rng.randint(1, 12))
        else:
            del rec[at : at + rng.randint(1, 8)]
    recs[k] = bytes(rec)
    return frame_records(recs)


def make(kind: str, rng: random.Random, damage_rate: float = 0.5) -> Case:
    case = GENERATORS[kind](rng)
    return damage(rng, case) if rng.random() < damage_rate else case


# ----------------------------------------------------------------- oracle


def judge(case: Case, directory: Path) -> tuple[str, str]:
    """Write ``case`` under ``directory`` and read it: ("ok" | "loss", detail). Exceptions
    other than TraindxError propagate (the caller counts them as crashes)."""
    import traindx

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / case.name
    path.write_bytes(case.data)
    try:
        runs = traindx.read(path)
    except TraindxError as err:
        if not case.damaged and case.points:
            return "loss", f"an undamaged log with {case.points} points was refused: {err}"
        return "ok", "refused"
    read = sum(len(s) for r in runs for s in r.series.values())
    lost = sum(r.ingest.lost() for r in runs)
    said = any(p.kind != "note" for r in runs for p in r.ingest.problems)
    said = said or any(r.ingest.unmapped for r in runs)
    if not case.damaged and read + lost != case.points:
        return "loss", f"{case.points} points written, {read} read, {lost} counted as lost"
    if case.damaged and case.in_place and read < case.points and not said:
        return "loss", f"{case.points} points written, {read} read, nothing reported ({case.ops})"
    for r in runs:
        for s in r.series.values():
            if s.values.dtype != np.float64 or len(s.steps) != len(s.values):
                return "loss", f"series {s.key} is malformed"
    return "ok", f"{read} read"


# ----------------------------------------------------------------- the CLI

DIR_NAMES = [b"run", b"r\xff\xfe", b"r\x1b[31mred", b"train", b"validation", b"a" * 250, b"x y",
             b"wandb", b"\xe2\x80\xaebidi", b"loss_val", b".hidden", b"[/bold]", b"[red]x"]  # fmt: skip


def write_tree(rng: random.Random, root: Path) -> int:
    """A tree of runs (some damaged, some empty, odd directory names); returns files written."""
    import os

    os.makedirs(root, exist_ok=True)
    count = 0
    for _ in range(rng.randint(1, 4)):
        parts = [rng.choice(DIR_NAMES) for _ in range(rng.randint(0, 2))]
        d = os.path.join(os.fsencode(root), *parts) if parts else os.fsencode(root)
        os.makedirs(d, exist_ok=True)
        r = rng.random()
        if r < 0.1:
            with open(os.path.join(d, b"run-1.wandb"), "wb") as f:
                f.write(b"\x00" * 8)
            continue
        if r < 0.2:
            name, data = rng.choice([(b"metrics.csv", b"epoch,loss\n"), (b"m.jsonl", b""),
                                     (b"notes.csv", b"a,b\n1,2\n"), (b"context.json", b"\xff{")])  # fmt: skip
        else:
            case = make(rng.choice(list(GENERATORS)), rng, damage_rate=0.3)
            name, data = case.name.encode(), case.data
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        count += 1
    return count


def judge_cli(root: Path, json_out: bool, capsys, command: str = "diagnose") -> tuple[str, str]:
    """Run ``traindx diagnose`` (or ``series``) on ``root``: ("ok" | "bad", detail). Exit 3
    or an exception escaping ``main`` is a crash (raised here as RuntimeError)."""
    from traindx.cli import main

    json_out = json_out and command == "diagnose"
    argv = [command, str(root)] + (["--json"] if json_out else [])
    code = main(argv)
    out, err = capsys()
    if code == 3 or "Traceback" in err:
        raise RuntimeError(f"exit {code}: {err.strip()[:400]}")
    if code not in (0, 2):
        return "bad", f"exit {code}"
    if json_out and code == 0:
        doc = json.loads(out)
        if not isinstance(doc.get("runs"), list):
            return "bad", "no runs list"
    if "\x1b" in out or "\x1b" in err:
        return "bad", "a raw escape character was printed"
    return "ok", f"exit {code}"
