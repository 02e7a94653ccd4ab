"""telemetry_jit's host design: one compile of the step, the statistics computed by numpy on
the host at telemetry steps (``_jax_stats/host.py``), the same definitions as the compiled
statistics. Real JAX and optax on small models; equality with the compiled design at a
float32 tolerance, training bit-identical to the plain step."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

from traindx.adapters import _jax_optax  # noqa: E402
from traindx.adapters._jax_stats import host as host_stats  # noqa: E402
from traindx.adapters.jax import telemetry, telemetry_jit  # noqa: E402

N, D = 32, 6


def _data(kind: str, n_batches: int = 3):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_batches):
        x = rng.normal(size=(N, D)).astype(np.float32)
        if kind == "int":
            y = rng.integers(0, 4, N).astype(np.int32)
        elif kind == "onehot":
            y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, N)]
        else:  # binary, one output per example
            y = rng.integers(0, 2, (N, 1)).astype(np.float32)
        out.append((jnp.asarray(x), jnp.asarray(y)))
    return out


def _model(kind: str):
    k = jax.random.split(jax.random.PRNGKey(1), 2)
    width = 1 if kind == "binary" else 4
    return {"h": {"w": jax.random.normal(k[0], (D, 8)) * 0.5, "b": jnp.zeros(8)},
            "out": {"w": jax.random.normal(k[1], (8, width)) * 0.5, "b": jnp.zeros(width)}}  # fmt: skip


def _step_fn(kind: str, tx):
    def loss_fn(p, x, y):
        h = jnp.tanh(x @ p["h"]["w"] + p["h"]["b"])
        z = h @ p["out"]["w"] + p["out"]["b"]
        if kind == "int":
            loss = optax.softmax_cross_entropy_with_integer_labels(z, y).mean()
        elif kind == "onehot":
            loss = optax.softmax_cross_entropy(z, y).mean()
        else:
            loss = optax.sigmoid_binary_cross_entropy(z, y).mean()
        return loss, (z, h)

    def step(p, s, x, y):
        (loss, (z, h)), g = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        u, s = tx.update(g, s, p)
        st = telemetry(grads=g, params=p, updates=u, loss=loss, activations={"tanh": h}, logits=z, labels=y,
                       inputs=x)  # fmt: skip
        return optax.apply_updates(p, u), s, st

    return step


def _train(step, kind: str, n: int = 6):
    p = _model(kind)
    tx = optax.adam(1e-2)
    s = tx.init(p)
    data = _data(kind)
    stats = []
    for i in range(n):
        x, y = data[i % len(data)]
        p, s, st = step(p, s, x, y)
        stats.append(st.as_dict())
    return p, stats


@pytest.mark.parametrize("kind", ["int", "onehot", "binary"])
def test_host_statistics_equal_the_compiled_ones(kind):
    """Every statistic of a telemetry step (gradient, weight and update norms, activations,
    inputs, outputs, labels and accuracy of each output kind) computed on the host equals
    the compiled one; between telemetry steps the host design's entries are NaN and its
    loss the same; the parameters are bit-identical to the plain step's."""
    tx = optax.adam(1e-2)
    host = telemetry_jit(_step_fn(kind, tx), every=3, host=True)
    comp = telemetry_jit(_step_fn(kind, tx), every=3, host=False)
    ph, sh = _train(host, kind)
    pc, sc = _train(comp, kind)
    assert host.host is True and comp.host is False and host.one is not None

    def plain_step(p, s, x, y):
        return _step_fn(kind, tx)(p, s, x, y)[:2] + (None,)

    p0, s0 = _model(kind), tx.init(_model(kind))
    plain = jax.jit(lambda p, s, x, y: plain_step(p, s, x, y)[:2])
    data = _data(kind)
    for i in range(6):
        p0, s0 = plain(p0, s0, *data[i % len(data)])
    for a, b, c in zip(jax.tree.leaves(p0), jax.tree.leaves(ph), jax.tree.leaves(pc), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b)) and np.array_equal(np.asarray(a), np.asarray(c))
    for i in (0, 1, 3):  # 1: the pair beside 0 (.stepdir)
        assert sh[i]["_tel"] == 1.0 and set(sh[i]) == set(sc[i])
        for k, v in sc[i].items():
            assert sh[i][k] == pytest.approx(v, rel=1e-4, abs=1e-6, nan_ok=True), k
    for i in (2, 4, 5):
        assert sh[i]["_tel"] == 0.0 and sh[i]["train/loss"] == sc[i]["train/loss"]
        assert np.isnan(sh[i]["train/grad_norm@h"]) and np.isnan(sh[i]["train/act_mean@tanh"])
        assert sh[i]["train/nonfinite@inputs"] == 0.0  # every step, as in the compiled light step


def test_a_failing_host_function_gives_nan_and_training_goes_on(monkeypatch):
    """An exception in the host statistics never reaches the step: that step's statistics
    are NaN, the failure is kept in host.ERRORS, the parameters are those of the plain step."""
    tx = optax.adam(1e-2)
    ref, _ = _train(telemetry_jit(_step_fn("int", tx), every=2, host=False), "int", 4)
    real = host_stats._full

    def broken(*args, **kw):
        if float(np.abs(np.asarray(args[1]["h"]["w"])).sum()) > 0:  # real arrays, not the layout's zeros
            raise FloatingPointError("broken on the host")
        return real(*args, **kw)

    monkeypatch.setattr(host_stats, "_full", broken)
    monkeypatch.setattr(host_stats, "ERRORS", [])
    got, stats = _train(telemetry_jit(_step_fn("int", tx), every=2, host=True), "int", 4)
    assert np.isnan(stats[0]["train/grad_norm@h"]) and stats[0]["_tel"] == 1.0
    assert np.isfinite(stats[0]["train/loss"])
    assert host_stats.ERRORS and "broken on the host" in host_stats.ERRORS[0]
    for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(got), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_arrays_numpy_cannot_lay_out_fall_back_to_compiled_statistics(monkeypatch):
    """When the host layout cannot be computed at trace time, the one function computes
    the statistics compiled under lax.cond instead: the same values, no exception."""
    tx = optax.adam(1e-2)
    _, ref = _train(telemetry_jit(_step_fn("int", tx), every=3, host=False), "int", 4)

    def refuse(*args, **kw):
        raise TypeError("no numpy for these")

    monkeypatch.setattr(host_stats, "on_host", refuse)
    _, got = _train(telemetry_jit(_step_fn("int", tx), every=3, host=True), "int", 4)
    assert got[3]["_tel"] == 1.0 and np.isnan(got[2]["train/grad_norm@h"])
    for k, v in ref[3].items():
        assert got[3][k] == pytest.approx(v, rel=1e-4, abs=1e-6, nan_ok=True), k


def test_nonfinite_loss_gets_host_statistics_at_once():
    """A step whose loss is not finite gets the statistics even between telemetry steps."""

    def f(w, x):
        z = x @ w["d"]["w"]
        return telemetry(grads=w, params=w, loss=jnp.log(jnp.min(z)), inputs=x)

    w = {"d": {"w": jnp.ones((3, 2))}}
    tj = telemetry_jit(f, every=5, host=True)
    tj(w, jnp.ones((4, 3)))
    st = tj(w, -jnp.ones((4, 3))).as_dict()  # log of a negative number: NaN loss
    assert st["_tel"] == 1.0 and st["train/grad_norm@d"] == pytest.approx(np.sqrt(6.0))


def test_design_choice_and_jit_options(monkeypatch):
    """Host while the arguments are small and jit options name positions only (shifted past
    the flag: static and donated arguments still work); compiled above HOST_LIMIT or with
    options by name."""

    def f(w, x, scale):
        z = scale * (x @ w["d"]["w"])
        return w, telemetry(grads=w, params=w, loss=jnp.mean(z**2), inputs=x)

    w, x = {"d": {"w": jnp.ones((3, 2))}}, jnp.ones((4, 3))
    tj = telemetry_jit(f, every=2, static_argnums=2, donate_argnums=0)
    w2, st = tj(w, x, 2.0)
    assert tj.host is True and st.as_dict()["train/loss"] == pytest.approx(36.0)
    _, st = tj(w2, x, 3.0)  # a new static value: compiled again, not traced as an array
    assert st.as_dict()["train/loss"] == pytest.approx(81.0) and st.as_dict()["_tel"] == 1.0  # call 1: .stepdir's pair
    named = telemetry_jit(f, every=2, static_argnames="scale")
    named({"d": {"w": jnp.ones((3, 2))}}, x, scale=2.0)
    assert named.host is False
    monkeypatch.setattr(_jax_optax, "HOST_LIMIT", 8)
    big = telemetry_jit(f, every=2)
    big({"d": {"w": jnp.ones((3, 2))}}, x, 1.0)
    assert big.host is False


def test_a_long_run_adds_the_light_function_and_records_across_the_switch(monkeypatch, tmp_path):
    """After HOST_ONLY_CALLS calls the light function compiles in a thread while the one
    function's steps go on; from the first telemetry step after it is done the steps between
    telemetry steps run it (its short layout, no compile on its first call), the telemetry
    steps still the host statistics; training is unchanged and the Recorder writes every
    telemetry step's per-layer norms across the switch."""
    import threading
    import time

    import traindx
    from traindx.adapters.jax import Recorder

    monkeypatch.setattr(_jax_optax, "HOST_ONLY_CALLS", 12)
    tx = optax.adam(1e-2)
    tj = telemetry_jit(_step_fn("int", tx), every=5, host=True)
    rec = Recorder(tmp_path / "run")
    p = _model("int")
    s = tx.init(p)
    data = _data("int")
    compiled = []  # (thread, call) of each XLA compile: the light one in the thread, once

    def heard(event: str, secs: float, **kw: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append((threading.current_thread().name, i))

    jax.monitoring.register_event_duration_secs_listener(heard)
    layouts, i, t0 = [], 0, time.monotonic()
    while i < 30 or (tj._pick[0] is not tj.light and time.monotonic() - t0 < 120):
        p, s, st = tj(p, s, *data[i % len(data)])
        rec.log(i, st)
        layouts.append(len(st.tags))
        i += 1
        if tj._bg is not None and not tj._bg.done.is_set():
            time.sleep(0.01)  # the thread's compile, not the loop, is what is waited for
    for _ in range(10):
        p, s, st = tj(p, s, *data[i % len(data)])
        rec.log(i, st)
        layouts.append(len(st.tags))
        i += 1
    jax.monitoring.unregister_event_duration_listener(heard)
    rec.close()
    assert tj.host is True and tj._pick[0] is tj.light and tj._bg is not None and tj._bg.ok
    assert len([c for c in compiled if c[0] == "traindx-compile"]) == 1
    k = layouts.index(min(layouts))  # the first light call: after a telemetry step at or past call 12
    assert k > 12 and (k - 1) % 5 == 0 and set(layouts[:k]) == {layouts[0]}
    assert not [c for c in compiled if c[1] >= k and c[0] != "traindx-compile"]  # its first call compiles nothing
    assert all(n == (layouts[0] if j % 5 == 0 else layouts[k]) for j, n in enumerate(layouts[k - 1 :]))
    ref, _ = _train(telemetry_jit(_step_fn("int", tx), every=5, host=False), "int", i)
    for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(p), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    run = traindx.read(tmp_path / "run")[0]
    assert list(run.series["train/grad_norm@h"].steps) == [0, 1, *range(5, i, 5)]  # 1: .stepdir's pair
    assert len(run.series["train/loss"].steps) == i


def test_host_leaf_sums_equal_the_compiled_ones():
    """leaf_sums with numpy (small leaves summed by one reduceat, large ones alone) equals the
    traced reduction: empty leaves 0, a NaN or inf stays in its own leaf, plain sums only
    where asked, across the SMALL_LEAF boundary."""
    from traindx.adapters._jax_stats.reduce import SMALL_LEAF, leaf_sums

    rng = np.random.default_rng(3)
    leaves = [rng.normal(size=(5, 7)).astype(np.float32), np.zeros((0,), np.float32),
              rng.normal(size=(SMALL_LEAF + 3,)).astype(np.float32), np.array([1.0, np.nan], np.float32),
              rng.normal(size=(3,)).astype(np.float32), np.array([np.inf, 2.0], np.float32),
              np.arange(6, dtype=np.int32).reshape(2, 3), rng.normal(size=(SMALL_LEAF,)).astype(np.float32)]  # fmt: skip
    flags = [True, True, True, False, True, True, False, True]
    sq, sm = leaf_sums(leaves, plain=flags, xp=np)
    jsq, jsm = jax.jit(lambda ls: leaf_sums(ls, plain=flags))([jnp.asarray(x) for x in leaves])
    assert sq.dtype == np.float32 and sm is not None and sm.dtype == np.float32 and sq.shape == (len(leaves),)
    np.testing.assert_allclose(sq, np.asarray(jsq), rtol=1e-5)
    np.testing.assert_allclose(sm, np.asarray(jsm), rtol=1e-5, atol=1e-3)
    assert sq[1] == 0.0 and np.isnan(sq[3]) and np.isinf(sq[5]) and np.isfinite(sq[4]) and np.isfinite(sq[6])
    assert sm[3] == 0.0 and sm[6] == 0.0  # not asked
    assert leaf_sums(leaves[:1], xp=np)[1] is None


def test_host_activation_statistics_equal_the_compiled_ones():
    """_act_block with numpy (each group's arrays as rows of one matrix, the fractions
    counted) equals the traced block: grouped same-shaped activations and ones alone, in
    the given order, float16 too; exact counts, minima and maxima; a NaN stays in its own
    activation's row."""
    from traindx.adapters._jax_stats.reduce import ACT_STATS, _act_block

    rng = np.random.default_rng(5)
    a = rng.normal(size=(16, 24)).astype(np.float32)
    nan = a.copy()
    nan[2, 3] = np.nan
    arrays = [np.maximum(a, 0), np.tanh(3 * a), (1 / (1 + np.exp(-6 * a))).astype(np.float32),
              rng.normal(size=(4, 3, 3, 5)).astype(np.float32), nan, rng.normal(size=(8, 4)).astype(np.float16),
              np.zeros((16, 24), np.float32), rng.normal(size=(150, 120)).astype(np.float32)]  # fmt: skip
    host = _act_block(arrays, np).reshape(-1, ACT_STATS)
    comp = np.asarray(jax.jit(lambda xs: _act_block(xs, jnp))([jnp.asarray(x) for x in arrays])).reshape(-1, ACT_STATS)
    assert host.dtype == np.float32 and host.shape == (len(arrays), ACT_STATS)
    ok = np.arange(len(arrays)) != 4
    np.testing.assert_allclose(host[ok, :2], comp[ok, :2], rtol=2e-5, atol=1e-6)  # mean, std
    np.testing.assert_allclose(host[ok, 2:5], comp[ok, 2:5], rtol=3e-7)  # fractions (XLA: times 1/n)
    np.testing.assert_array_equal(host[ok, 5:], comp[ok, 5:])  # min, max
    assert np.isnan(host[4, :2]).all() and np.isfinite(host[[3, 5], :]).all()
    assert host[0, 2] == np.float32(np.mean(arrays[0] == 0)) and host[6, 2] == 1.0  # ReLU zeros; all zeros
    assert host[1, 3] == np.float32(np.mean(np.abs(arrays[1]) > 0.99)) > 0  # tanh saturated
    assert host[5, 5] == arrays[5].astype(np.float32).min() and host[7, 6] == arrays[7].max()


def test_host_arrays_cross_as_one_buffer_per_dtype():
    """The host design hands the callback one flat buffer per dtype (JAX copies every
    callback argument into an array of its own), not one array per leaf, and the statistics
    are those of the compiled design (a net of 12 layers: 72 leaves across three pytrees)."""
    tx = optax.sgd(1e-2)
    keys = jax.random.split(jax.random.PRNGKey(0), 12)
    p0 = {f"l{i}": {"w": jax.random.normal(k, (D, D)) * 0.4, "b": jnp.zeros(D)} for i, k in enumerate(keys)}

    def step(p, s, x, y):
        def lf(p):
            h = x
            for i in range(12):
                h = jnp.tanh(h @ p[f"l{i}"]["w"] + p[f"l{i}"]["b"])
            return optax.softmax_cross_entropy_with_integer_labels(h, y).mean(), h

        (loss, z), g = jax.value_and_grad(lf, has_aux=True)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, logits=z,
                                                       labels=y, inputs=x)  # fmt: skip

    x, y = _data("int")[0]
    host = telemetry_jit(step, every=2, host=True)
    got = host(p0, tx.init(p0), x, y)[2].as_dict()
    ref = telemetry_jit(step, every=2, host=False)(p0, tx.init(p0), x, y)[2].as_dict()
    jaxpr = host.one.trace(host._yes, p0, tx.init(p0), x, y).jaxpr
    calls = []

    def visit(jp):
        for eqn in jp.eqns:
            if eqn.primitive.name == "pure_callback":
                calls.append(len(eqn.invars))
            for sub in jax.core.jaxprs_in_params(eqn.params):
                visit(sub)

    visit(jaxpr.jaxpr)
    assert calls == [2]  # float32 (grads, params, updates, logits, inputs) and int32 (labels)
    assert got["_tel"] == 1.0 and set(got) == set(ref)
    for k, v in ref.items():
        assert got[k] == pytest.approx(v, rel=1e-4, abs=1e-6, nan_ok=True), k


def test_host_step_reads_a_tree_structure_once(monkeypatch):
    """The layers, leaf paths, activation names and reduction groups depend on a tree's
    structure alone: a host telemetry step finds them once per structure (no key path is
    turned into text at later telemetry steps), and another structure, a leaf that stops
    being an array or another shape gets its own, right, answer."""
    import importlib

    from traindx.adapters._jax_stats import reduce, tree

    tel = importlib.import_module("traindx.adapters._jax_stats.telemetry")  # the module (the package exports the function)

    made: list[object] = []
    parts = tree.path_parts
    monkeypatch.setattr(tree, "path_parts", lambda p: made.append(p) or parts(p))
    w = np.ones((3, 2), np.float32)
    a = {"enc": {"w": w, "b": np.zeros(2, np.float32)}, "head": {"w": w}}
    first = tree.group_leaves(a)
    n = len(made)
    assert n == 3 and first[1] == ("enc", "head") and first[2] == (0, 0, 1)
    again = tree.group_leaves({"enc": {"w": 2 * w, "b": np.ones(2, np.float32)}, "head": {"w": w}})
    assert len(made) == n and again[1:] == first[1:] and again[0][1][0, 0] == 2.0  # the new leaves (b sorts first)
    other = tree.group_leaves({"enc": {"w": w, "b": np.zeros(2, np.float32)}, "out": {"w": w}})
    assert other[1] == ("enc", "out") and len(made) == n + 3
    fewer = tree.group_leaves({"enc": {"w": w, "b": "not an array"}, "head": {"w": w}})
    assert fewer[2] == (0, 1) and len(fewer[0]) == 2 and fewer[3] == (("enc", "w"), ("head", "w"))

    acts = {"intermediates": {"Dense_0": {"__call__": (w,)}, "Dense_1": {"__call__": (w,)}}}
    assert tel.activation_names(acts)[0] == ["Dense_0", "Dense_1"]
    monkeypatch.setattr(tel, "_activation_names", lambda _: pytest.fail("names found again"))
    names, arrays = tel.activation_names({"intermediates": {"Dense_0": {"__call__": (w,)}, "Dense_1": {"__call__": (2 * w,)}}})
    assert names == ["Dense_0", "Dense_1"] and arrays[1][0, 0] == 2.0
    monkeypatch.undo()
    assert tel.activation_names({"relu": w, "tanh": w})[0] == ["relu", "tanh"]

    groups = reduce._grouped([w, w, np.ones(4, np.float32), w], np)
    assert groups[0] == [[0, 1, 3], [2]] and list(groups[1]) == [0, 1, 3, 2]
    assert reduce._grouped([w, w, np.ones(4, np.float32), w], np) is groups  # found once
    assert reduce._grouped([w, w.astype(np.float16)], np)[0] == [[0], [1]]
    assert reduce._grouped([w, w], jnp)[0] == [[0, 1]]  # traced: the same grouping
    f = np.ones(3, np.float32)
    assert reduce._f32(f, np) is f and reduce._f32(f.astype(np.float16), np).dtype == np.float32


def test_a_persistent_compilation_cache_picks_the_compiled_design(monkeypatch):
    """JAX never caches an executable with a host callback: with its persistent compilation
    cache on, the default design is the compiled one (both functions cacheable); without it
    the host design as before. The config is only read here, nothing compiles while it is set."""
    old = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", "/nonexistent/traindx-test-cache")
        assert _jax_optax._cached()
    finally:
        jax.config.update("jax_compilation_cache_dir", old)
    assert _jax_optax._cached() is bool(old)

    def f(w, x):
        return w, telemetry(grads=w, params=w, loss=jnp.mean((x @ w["d"]["w"]) ** 2), inputs=x)

    w, x = {"d": {"w": jnp.ones((3, 2))}}, jnp.ones((4, 3))
    monkeypatch.setattr(_jax_optax, "_cached", lambda: False)
    plain = telemetry_jit(f, every=2)
    plain(w, x)
    assert plain.host is True
    monkeypatch.setattr(_jax_optax, "_cached", lambda: True)
    cached = telemetry_jit(f, every=2)
    _, st = cached(w, x)
    assert cached.host is False and st.as_dict()["train/loss"] == pytest.approx(9.0)
    forced = telemetry_jit(f, every=2, host=True)  # an explicit choice is kept
    forced(w, x)
    assert forced.host is True
