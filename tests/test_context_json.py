"""context.json without pydantic (traindx.context_json, issue 15): the same contexts as
pydantic's validation, pydantic where a value is outside the plain path, and a JAX run
that imports no pydantic at all."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traindx.context_json import construct, dumps, loads, read
from traindx.lazymodel import LazyModel
from traindx.schema import DataInfo, LayerInfo, LossInfo, ModelInfo, OptimizerInfo, RunContext

ROOT = Path(__file__).resolve().parents[1]


def same(a, b, path="$"):
    """Equal values of the same types (1 == 1.0 == True in Python: not here), same fields set."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} {a!r} vs {type(b).__name__} {b!r}"
    if isinstance(a, LazyModel):
        assert a.model_fields_set == b.model_fields_set, path
        for n in type(a)._fields:
            same(a.__dict__.get(n), b.__dict__.get(n), f"{path}.{n}")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} vs {b!r}"  # NaN is NaN


def corpus_contexts(every: int = 2) -> list[Path]:
    """Recorded contexts of the three adapters (fixtures/logs and the Keras Q&A set; the
    whole fixtures tree, 764 files, was checked the same way by hand)."""
    files = sorted((ROOT / "fixtures" / "logs").rglob("context.json")) + sorted((ROOT / "fixtures" / "qa_keras").rglob("context.json"))
    return files[::every]


def test_corpus_contexts_read_as_pydantic_reads_them():
    files = corpus_contexts()
    assert len(files) > 50
    for f in files:
        data = f.read_bytes()
        ref = RunContext.model_validate_json(data)
        fast = loads(data)
        assert fast is not None, f  # every recorded context takes the plain path
        same(fast, ref, str(f))
        # written back: pydantic and the plain reader read the values pydantic's own text gives
        back = RunContext.model_validate_json(ref.model_dump_json(indent=1))
        text = dumps(ref)
        assert text is not None
        same(RunContext.model_validate_json(text), back, str(f))
        same(loads(text), back, str(f))


def _ctx() -> RunContext:
    c = RunContext.model_construct(framework="jax", epochs=3)
    c.model = ModelInfo.model_construct(layers=[LayerInfo.model_construct(name="Dense_0", params=10, output_shape=[None, 4])])
    c.optimizer = OptimizerInfo.model_construct(name="adam", lr=1, eps=1e-08, betas=[1, 0.999], momentum=1e16)
    c.data = DataInfo.model_construct(input_min=np.float64(-0.0), input_mean=5e-324, input_max=math.inf, task="binary")
    c.flags = {"a": 0.5, "b": True, "c": "x", "nan": math.nan}
    c.notes = ['quote " backslash \\ tab \t nl \n ctrl \x01 é \u2028 😀']
    c.hyperparameters = {"n": None, "x": {"y": [1.0, 2, "z"]}, "big": 10**30}
    return c


def test_written_text_reads_back_as_pydantic_writes_it():
    c = _ctx()
    text = dumps(c)
    assert text is not None
    ref_text = c.model_dump_json(indent=1)
    same(json.loads(text), json.loads(ref_text))  # the same document (floats written apart)
    # a NaN flag is null, which neither reader takes: both refuse (pydantic's error is the message)
    assert loads(text) is None
    with pytest.raises(ValueError):
        RunContext.model_validate_json(text)
    c.flags.pop("nan")
    c.data.input_max = 1.0
    text = dumps(c)
    same(loads(text), RunContext.model_validate_json(text))
    same(loads(text), RunContext.model_validate_json(c.model_dump_json(indent=1)))


@pytest.mark.parametrize(
    "doc",
    [
        '{"epochs": 2.0}',  # pydantic makes it 2
        '{"epochs": "2"}',
        '{"optimizer": {"lr": "0.1"}}',
        '{"flags": {"a": 1}}',  # int in float | bool | str
        '{"model": {"layers": [{"type": "Dense"}]}}',  # a layer without its name
        '{"unknown": 1}',
        '{"data": {"task": "ranking"}}',
        '{"epochs": 1, "epochs": 2}',
        '{"optimizer": {"lr": NaN}}',
        '{"epochs": 1e400}',
        '[1, 2]',
        'not json',
        '{"framework": "jax", "notes": [1]}',
    ],
)
def test_outside_the_plain_path_pydantic_decides(doc):
    """Values pydantic converts, refuses or reads its own way: the plain path declines, so
    the reader's pydantic gives the context (or its error message) as before."""
    assert loads(doc) is None
    try:
        ref = RunContext.model_validate_json(doc)
    except ValueError as e:
        with pytest.raises(type(e)) as got:
            read(doc)
        assert str(got.value) == str(e)
    else:
        same(read(doc), ref)


def test_ints_for_floats_are_floats():
    same(loads('{"optimizer": {"lr": 1}}'), RunContext.model_validate_json('{"optimizer": {"lr": 1}}'))
    assert type(loads('{"optimizer": {"lr": 1}}').optimizer.lr) is float


def test_construct_validates_as_pydantic():
    same(construct(OptimizerInfo, name="sgd", lr=1, momentum=0.9), OptimizerInfo(name="sgd", lr=1, momentum=0.9))
    same(construct(LossInfo), LossInfo())
    layer = construct(LayerInfo, name="Dense_0", type="Dense", params=7, trainable=True, output_shape=[None, 3])
    same(layer, LayerInfo(name="Dense_0", type="Dense", params=7, trainable=True, output_shape=[None, 3]))
    same(construct(ModelInfo, layers=[layer], num_params=7), ModelInfo(layers=[layer], num_params=7))
    same(construct(RunContext, framework="jax", epochs=3), RunContext(framework="jax", epochs=3))
    # numpy values and tuples: pydantic validates (and converts) them as before
    same(construct(LayerInfo, name="a", params=np.int64(3), output_shape=(None, 2)),
         LayerInfo(name="a", params=np.int64(3), output_shape=(None, 2)))  # fmt: skip
    assert type(construct(LayerInfo, name="a", params=np.int64(3)).params) is int
    with pytest.raises(ValueError):
        construct(LayerInfo, params=3)  # no name: pydantic's error


def test_jax_recorder_run_imports_no_pydantic(tmp_path):
    """A short JAX run recorded in a fresh process (set-up with ``data=``, steps, context
    written): no pydantic (0.13-0.25 s of CPU); its context.json reads the same with pydantic,
    and the run is read back and diagnosed with the plain path."""
    code = f"""
import sys
import jax, jax.numpy as jnp, numpy as np, optax
import traindx
from traindx.adapters.jax import Recorder, telemetry, telemetry_jit
rng = np.random.default_rng(0)
x = jnp.asarray(rng.normal(size=(64, 8)), jnp.float32)
y = jnp.asarray(rng.integers(0, 3, 64), jnp.int32)
params = {{"Dense_0": {{"kernel": jnp.asarray(rng.normal(size=(8, 3)) * 0.3, jnp.float32), "bias": jnp.zeros(3)}}}}
tx = optax.sgd(0.1)
def step(p, s, xb, yb):
    def loss_fn(p):
        z = xb @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
        return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean(), z
    (loss, z), g = jax.value_and_grad(loss_fn, has_aux=True)(p)
    u, s = tx.update(g, s, p)
    return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=z, labels=yb, inputs=xb)
fn = telemetry_jit(step)
rec = Recorder({str(tmp_path)!r}, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
               num_classes=3, data=(np.asarray(x), np.asarray(y)))
p, s = params, tx.init(params)
for i in range(30):
    p, s, out = fn(p, s, x, y)
    rec.log(i, out)
rec.close()
print("pydantic" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
    data = (tmp_path / "context.json").read_bytes()
    ctx = loads(data)
    assert ctx is not None and ctx.framework == "jax" and ctx.optimizer.name == "sgd"
    same(ctx, RunContext.model_validate_json(data))
    import traindx

    run = traindx.read(tmp_path)[0]
    same(run.context, RunContext.model_validate_json(data))
    assert traindx.diagnose(tmp_path) is not None
