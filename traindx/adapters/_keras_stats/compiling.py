"""Compiling the callback's functions: TensorFlow graphs without autograph, and the JAX probe
with XLA options that compile fast."""

from __future__ import annotations

from typing import Any


def tf_function(fn: Any) -> Any:
    """``fn`` as a TensorFlow graph function, traced without autograph where it can be.

    Autograph rewrites the Python source of every function a trace calls (ours and Keras'),
    which made the probe's first call in a process cost 0.9 s CPU instead of 0.2 (a 6-epoch
    Keras fit on digits: the callback's fixed cost). The statistics need none of it (their
    loops and branches are over Python values), but a user's layer may branch on a tensor:
    when the trace without autograph fails, the function is traced again with it, once.
    """
    import tensorflow as tf

    plain = tf.function(fn, reduce_retracing=True, autograph=False)
    chosen: list[Any] = []

    def call(*args: Any) -> Any:
        if chosen:
            return chosen[0](*args)
        try:
            out = plain(*args)
        except Exception:  # noqa: BLE001 - Python control flow on tensors: autograph it
            chosen.append(tf.function(fn, reduce_retracing=True))
            return chosen[0](*args)
        chosen.append(plain)
        return out

    return call


#: XLA options for the probe on a CPU device, tried in turn: LLVM at optimization level 0
#: and XLA's older loop emitters compile the digits MLP's forward/backward in 58 ms CPU
#: instead of 303 (157 with the level alone), for calls that run 1.4 ms instead of 0.5; the
#: probe runs a few times a fit (benchmarks/overhead_keras.py --fixed: the callback's fixed cost).
FAST_COMPILE = ({"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False},
                {"xla_backend_optimization_level": 0})  # fmt: skip


def fast_compile(fn: Any, args: tuple[Any, ...]) -> Any:
    """``jax.jit(fn)`` compiled for ``args``: on CPU with the first of :data:`FAST_COMPILE`
    this XLA takes, else as ``jax.jit`` does."""
    import jax

    jitted = jax.jit(fn)
    if not all(d.platform == "cpu" for d in jax.devices()):
        return jitted
    lowered = jitted.lower(*args)
    for opts in FAST_COMPILE:
        try:
            return lowered.compile(compiler_options=opts)
        except Exception:  # noqa: BLE001, S112 - an XLA without the option: the next
            continue
    return jitted
