"""The JAX Recorder records the loop's plan and its gradient accumulation, as the Keras callback
and the torch Monitor record theirs (issue 10): ``epochs`` / ``steps_per_epoch`` / ``max_steps``
given to the Recorder (so ``run.plan_done`` tells a loop stopped early from one planned short,
CTX021), epoch ends marked with ``log_eval(step, epoch=e)``, and the micro-batches per update
of an ``optax.MultiSteps`` or ``optax.apply_every`` (``grad_accum_steps``). Facts only: the
parameters are the same with and without the Recorder."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

import traindx  # noqa: E402
from traindx.adapters._jax_stats.accum import accumulation_steps  # noqa: E402
from traindx.adapters.jax import Recorder, telemetry  # noqa: E402
from traindx.signals import compute_facts  # noqa: E402

pytestmark = pytest.mark.jax

N, BS = 320, 32  # 10 steps per epoch


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 8)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32)
    return x, y


def train(path, data, tx, epochs_run, rec_kw=None, mark_epochs=False):
    """A plain optax loop over ``epochs_run`` epochs; with ``rec_kw`` a Recorder records it.
    -> (final params, the run read back or None)."""
    x, y = data
    params = {"w": jnp.zeros((8, 2)), "b": jnp.zeros((2,))}
    state = tx.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        def obj(p):
            return optax.softmax_cross_entropy_with_integer_labels(xb @ p["w"] + p["b"], yb).mean()

        loss, g = jax.value_and_grad(obj)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, telemetry(grads=g, params=p, updates=u, loss=loss, inputs=xb)

    rec = None
    if rec_kw is not None:
        rec = Recorder(path, params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
                       num_classes=2, **rec_kw)  # fmt: skip
    i = 0
    for e in range(epochs_run):
        for j in range(0, N, BS):
            params, state, st = step(params, state, jnp.asarray(x[j : j + BS]), jnp.asarray(y[j : j + BS]))
            if rec is not None:
                rec.log(i, st)
            i += 1
        if rec is not None:
            rec.log_eval(i - 1, val_loss=1.0 / (e + 1), **({"epoch": e} if mark_epochs else {}))
    if rec is None:
        return params, None
    rec.close()
    return params, traindx.read(path)[0]


def test_plan_given_is_recorded_and_read(tmp_path, data):
    _, run = train(tmp_path / "plan", data, optax.sgd(0.1), 2, {"epochs": 20, "steps_per_epoch": N // BS})
    assert (run.context.epochs, run.context.steps_per_epoch) == (20, N // BS)
    # a loop that broke off after 2 of its 20 planned epochs: a tenth of its plan
    assert compute_facts(run)["run"]["plan_done"] == pytest.approx(0.1)
    _, full = train(tmp_path / "full", data, optax.sgd(0.1), 2, {"epochs": 2, "max_steps": 2 * N // BS})
    assert full.context.max_steps == 2 * N // BS
    assert compute_facts(full)["run"]["plan_done"] == pytest.approx(1.0)


def test_no_plan_no_facts_and_epoch_marks(tmp_path, data):
    _, run = train(tmp_path / "none", data, optax.sgd(0.1), 2, {})
    assert run.context.epochs is None and run.context.max_steps is None
    assert "plan_done" not in compute_facts(run)["run"]
    # epoch ends marked in log_eval: the reader counts the steps per epoch from them
    _, marked = train(tmp_path / "marks", data, optax.sgd(0.1), 3, {}, mark_epochs=True)
    assert marked.context.steps_per_epoch == N // BS


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_plan_must_be_positive_ints(tmp_path, bad):
    with pytest.raises(ValueError, match="epochs must be a positive int or None"):
        Recorder(tmp_path / "bad", epochs=bad)


def test_accumulation_read_from_optax(tmp_path, data):
    ms = optax.MultiSteps(optax.adam(1e-2), every_k_schedule=4)
    assert accumulation_steps(ms) == 4
    assert accumulation_steps(ms.gradient_transformation()) == 4
    assert accumulation_steps(optax.chain(optax.clip_by_global_norm(1.0), optax.apply_every(3), optax.sgd(0.1))) == 3
    assert accumulation_steps(optax.adam(1e-3)) is None
    assert accumulation_steps(optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.1, momentum=0.9))) is None
    tx = ms.gradient_transformation()
    plain, _ = train(None, data, tx, 1)
    params, run = train(tmp_path / "ms", data, tx, 1, {"n_train": N})
    # facts only: the Recorder leaves the update untouched
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(params), strict=True))
    c = run.context
    assert c.flags["grad_accum_steps"] == 4.0 and c.hyperparameters["gradient_accumulation_steps"] == 4
    assert c.optimizer.name == "adam" and c.optimizer.lr == pytest.approx(1e-2)  # the inner optimizer
    # the logged steps are micro-batches: an epoch counts N / BS of them, not N / BS / 4
    assert c.steps_per_epoch == N // BS
    assert compute_facts(run)["ctx"]["steps_per_epoch"] == N // BS
    _, plain_run = train(tmp_path / "sgd", data, optax.sgd(0.1), 1, {"n_train": N})
    assert "grad_accum_steps" not in plain_run.context.flags and plain_run.context.steps_per_epoch is None


def test_accumulating_run_is_not_read_as_updates_never_applied(tmp_path):
    """optax.MultiSteps applies its update every k-th micro-batch and returns zeros between: the
    telemetry steps of a healthy run may all fall between two boundaries. UPD003 ("parameters
    do not change") must not read that as updates_not_applied when the Recorder states the
    accumulation (it did: a healthy MultiSteps(adam, 4) run on digits, 0.96 validation accuracy,
    was updates_not_applied 75 %)."""
    from traindx.adapters.jax import telemetry_jit

    rng = np.random.default_rng(1)
    x = rng.normal(size=(640, 16)).astype(np.float32)
    y = (x[:, :4].sum(1) > 0).astype(np.int32)
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    params = {"w1": jax.random.normal(k1, (16, 32)) * 0.35, "b1": jnp.zeros(32),
              "w2": jax.random.normal(k2, (32, 2)) * 0.25, "b2": jnp.zeros(2)}  # fmt: skip
    tx = optax.MultiSteps(optax.adam(3e-3), every_k_schedule=4)
    state = tx.init(params)

    def loss_fn(p, xb, yb):
        logits = jax.nn.relu(xb @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), logits

    @telemetry_jit
    def step(p, s, xb, yb):
        (loss, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(p, xb, yb)
        u, s = tx.update(g, s, p)
        st = telemetry(grads=g, params=p, updates=u, loss=loss, logits=logits, labels=yb, inputs=xb)
        return optax.apply_updates(p, u), s, st

    bs, epochs = 16, 12
    rec = Recorder(tmp_path / "ms", params=params, optimizer=tx, loss="softmax_cross_entropy_with_integer_labels",
                   num_classes=2, epochs=epochs, steps_per_epoch=512 // bs)  # fmt: skip
    i = 0
    for _ in range(epochs):
        for j in range(0, 512, bs):
            params, state, st = step(params, state, jnp.asarray(x[j : j + bs]), jnp.asarray(y[j : j + bs]))
            rec.log(i, st)
            i += 1
        vl, logits = loss_fn(params, jnp.asarray(x[512:]), jnp.asarray(y[512:]))
        rec.log_eval(i - 1, val_loss=float(vl), val_accuracy=float((logits.argmax(-1) == y[512:]).mean()))
    d = rec.diagnose()
    run = d.runs[0] if hasattr(d, "runs") else d
    codes = {s.code for s in run.symptoms}
    assert "UPD003" not in codes
    assert not run.causes or run.causes[0].id != "updates_not_applied"
