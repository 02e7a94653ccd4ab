"""The JAX Recorder's ``reg_loss_share`` (as the Keras callback's): the part of the first
logged training loss above the softmax cross-entropy of the step's own logits and class ids -
a penalty added to the objective (qa_fresh40's iris MLP with lam * sum(w**2), lam = 1, read
as wrong_loss_function 42 %). The plain cross-entropy records 0; a loss summed over the batch
(batch-size times the mean) is a reduction, not a penalty, and records nothing."""

from __future__ import annotations

import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jnp = jax.numpy

from traindx.adapters.jax import Recorder, telemetry  # noqa: E402

pytestmark = pytest.mark.jax

N, C = 32, 3
Z = jnp.linspace(-1.0, 1.0, N * C).reshape(N, C)
Y = jnp.arange(N) % C


def share(tmp_path, objective):
    tel = jax.jit(lambda z, y: telemetry(loss=objective(z, y), logits=z, labels=y))
    rec = Recorder(tmp_path, loss="softmax_cross_entropy_with_integer_labels", num_classes=C, fetch_every=2)
    for i in range(4):
        rec.log(i, tel(Z * (1.0 + 0.1 * i), Y))
    rec.close()
    return rec.context.flags.get("reg_loss_share")


def ce(z, y):
    return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()


def test_an_added_penalty_is_its_share_of_the_first_loss(tmp_path):
    got = share(tmp_path, lambda z, y: ce(z, y) + 3.0)
    want = 3.0 / (float(ce(Z, Y)) + 3.0)
    assert got is not None and abs(got - want) < 1e-3, (got, want)


def test_the_plain_cross_entropy_has_no_penalty(tmp_path):
    assert share(tmp_path, ce) == pytest.approx(0.0, abs=1e-4)


def test_a_summed_loss_is_a_reduction_not_a_penalty(tmp_path):
    assert share(tmp_path, lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).sum()) is None
