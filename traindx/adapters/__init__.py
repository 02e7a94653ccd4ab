"""Live adapters: record telemetry from inside a training loop and diagnose it.

Each adapter lives in its own module and imports its framework only when that module is
imported, so ``import traindx`` (and ``import traindx.adapters``) never imports a framework:

>>> from traindx.adapters.torch import Monitor      # doctest: +SKIP
>>> mon = Monitor(model, optimizer, loss_fn=criterion, logdir="runs/exp1")  # doctest: +SKIP

An adapter writes what it records to ``logdir`` as TensorBoard event files whose tags are
canonical series keys (``train/grad_norm@fc1``) plus a ``context.json`` (a
:class:`~traindx.schema.RunContext`), so ``traindx diagnose logdir`` reads it back unchanged.
"""
