"""UPD004 on real JAX runs: a step that applies the optimizer's updates to the head only
fires it; a backbone frozen on purpose by the optax transformation (set_to_zero under
multi_transform), which the Recorder records as flag frozen_by_optimizer, does not."""

from __future__ import annotations

import json

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax
LOSS = optax.softmax_cross_entropy_with_integer_labels


def _params():
    k0, k1, k2 = jax.random.split(jax.random.PRNGKey(0), 3)
    shapes = {"Dense_0": (64, 32), "Dense_1": (32, 32), "Dense_2": (32, 10)}
    return {"params": {n: {"kernel": jax.random.normal(k, s) * np.sqrt(2.0 / s[0]), "bias": jnp.zeros(s[1])}
                       for (n, s), k in zip(shapes.items(), (k0, k1, k2), strict=True)}}  # fmt: skip


def _loss(p, x, y):
    p = p["params"]
    h = jax.nn.relu(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    h = jax.nn.relu(h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"])
    return LOSS(h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"], y).mean()


def _run(tmp_path, tx, head_only_by_hand: bool):
    from sklearn.datasets import load_digits

    x_all, y_all = load_digits(return_X_y=True)
    x_all, y_all = (x_all[:512] / 16.0).astype(np.float32), y_all[:512].astype(np.int32)
    p = _params()
    s = tx.init(p)

    @jax.jit
    def step(p, s, x, y):
        loss, g = jax.value_and_grad(_loss)(p, x, y)
        u, s = tx.update(g, s, p)
        if head_only_by_hand:  # the bug: the backbone's updates are dropped
            u = {"params": {k: (v if k == "Dense_2" else jax.tree.map(jnp.zeros_like, v)) for k, v in u["params"].items()}}
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss)

    rec = Recorder(tmp_path, params=p, optimizer=tx, loss=LOSS, fetch_every=50)
    i = 0
    for _ in range(8):
        for b in range(0, 512, 32):
            p, s, st = step(p, s, jnp.asarray(x_all[b:b + 32]), jnp.asarray(y_all[b:b + 32]))
            rec.log(i, st)
            i += 1
    rec.close()
    (run,) = traindx.read(tmp_path)
    (d,) = traindx.diagnose(run)
    return {sym.code for sym in d.symptoms}, json.loads((tmp_path / "context.json").read_text())["flags"]


def test_updates_applied_to_the_head_only(tmp_path):
    codes, flags = _run(tmp_path, optax.adam(1e-3), head_only_by_hand=True)
    assert flags["frozen_by_optimizer"] is False
    assert "UPD004" in codes


def test_a_backbone_frozen_by_the_optimizer_is_not_flagged(tmp_path):
    labels = {"params": {"Dense_0": "frozen", "Dense_1": "frozen", "Dense_2": "train"}}
    tx = optax.multi_transform({"train": optax.adam(1e-3), "frozen": optax.set_to_zero()}, labels)
    codes, flags = _run(tmp_path, tx, head_only_by_hand=False)
    assert flags["frozen_by_optimizer"] is True
    assert "UPD004" not in codes


@pytest.mark.parametrize("case", ["frozen_backbone", "most_params", "label_fn_in_chain"])
def test_the_optimizer_inside_a_partition_is_read(tmp_path, case):
    """The Recorder read no optimizer settings (name, lr, betas all None) from an
    ``optax.multi_transform`` / ``optax.partition``: the closures it walks hold the inner
    transforms in a dict it did not open. Now it reads the single non-frozen transform (the one
    ``frozen_by_optimizer`` does not count), else the one covering most parameters; settings
    around the partition (a clip) are kept."""
    big = {"Dense_0": "a", "Dense_1": "a", "Dense_2": "b"}  # a: 64*32+32*32+64 params, b: 330
    if case == "frozen_backbone":
        tx = optax.multi_transform({"b": optax.adam(2e-3), "a": optax.set_to_zero()}, {"params": big})
        want = ("adam", 2e-3, None)
    elif case == "most_params":
        tx = optax.multi_transform({"b": optax.sgd(0.1, momentum=0.9), "a": optax.adam(3e-4)}, {"params": big})
        want = ("adam", 3e-4, None)
    else:
        labels = lambda p: {"params": {k: big[k] for k in p["params"]}}  # noqa: E731
        tx = optax.chain(optax.clip_by_global_norm(1.0),
                         optax.partition({"a": optax.sgd(0.05, momentum=0.9), "b": optax.adam(1e-3)}, labels))  # fmt: skip
        want = ("sgd", 0.05, 1.0)
    p = _params()
    s = tx.init(p)
    rec = Recorder(tmp_path, params=p, optimizer=tx, loss=LOSS, fetch_every=1)
    x, y = jnp.ones((8, 64)), jnp.zeros(8, jnp.int32)
    for i in range(2):
        loss, g = jax.value_and_grad(_loss)(p, x, y)
        u, s = tx.update(g, s, p)
        p = optax.apply_updates(p, u)
        rec.log(i, telemetry(grads=g, params=p, updates=u, loss=loss))
    rec.close()
    opt = json.loads((tmp_path / "context.json").read_text())["optimizer"]
    assert (opt["name"], opt["lr"], opt.get("clipnorm")) == (want[0], pytest.approx(want[1]), want[2])
