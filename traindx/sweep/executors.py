"""Where a sweep's tasks run: in this process, in a pool of local processes, or on a Dask
cluster (``dask.distributed``: a LocalCluster, or a running scheduler at ``dask://HOST:PORT``).

Every executor runs the same :func:`~traindx.sweep.tasks.run_task` on the same tasks and
returns the summaries in task order, so the results do not depend on the executor.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from traindx.errors import TraindxError
from traindx.sweep.tasks import Task, TaskResult, run_task

EXECUTORS = ("serial", "process", "dask")
DASK_EXTRA = "traindx[dask]"


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_executor(name: str) -> str:
    """``name`` if it is an executor traindx knows; a one-line error otherwise."""
    if name in EXECUTORS or name.startswith("dask://"):
        return name
    raise TraindxError(
        f"--executor {name!r}: expected serial, process, dask or dask://HOST:PORT (a running scheduler)"
    )


def _serial(tasks: list[Task], workers: int, progress: Callable[[int], None]) -> list[TaskResult]:
    out = []
    for t in tasks:
        out.append(run_task(t))
        progress(len(t.runs))
    return out


def _process(tasks: list[Task], workers: int, progress: Callable[[int], None]) -> list[TaskResult]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if workers <= 1 or len(tasks) <= 1:
        return _serial(tasks, workers, progress)
    # forkserver: no fork of a process that may hold threads (a user's, Dask's)
    ctx = mp.get_context("forkserver")
    out = []
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        for t, res in zip(tasks, pool.map(run_task, tasks), strict=True):
            out.append(res)
            progress(len(t.runs))
    return out


def _dask(address: str | None, tasks: list[Task], workers: int, progress: Callable[[int], None]) -> list[TaskResult]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise TraindxError(
            f"--executor dask needs dask.distributed; install the extra: pip install '{DASK_EXTRA}'"
        ) from None
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)  # fmt: skip
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="10s")
        except OSError as e:
            raise TraindxError(f"--executor dask://{address[len('tcp://'):]}: cannot reach the scheduler ({e})") from None
    try:
        return gather(client, tasks, progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def gather(client, tasks: list[Task], progress: Callable[[int], None] | None = None) -> list[TaskResult]:
    """Run the tasks on a Dask ``client``; the summaries in task order."""
    from dask.distributed import as_completed

    progress = progress or (lambda n: None)
    futures = client.map(run_task, tasks, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    out: list[TaskResult] = [TaskResult() for _ in tasks]
    for fut in as_completed(futures):
        i = index[fut.key]
        out[i] = fut.result()
        progress(len(tasks[i].runs))
    return out


def execute(
    tasks: list[Task], executor: str = "serial", workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> TaskResult:  # fmt: skip
    """Run ``tasks`` on ``executor``; the summaries of every run (in task order) and what
    the workers did not read."""
    executor = check_executor(executor)
    workers = workers or default_workers()
    progress = progress or (lambda n: None)
    if executor == "serial":
        parts = _serial(tasks, workers, progress)
    elif executor == "process":
        parts = _process(tasks, workers, progress)
    else:
        address = "tcp://" + executor[len("dask://"):] if executor.startswith("dask://") else None
        parts = _dask(address, tasks, workers, progress)
    return TaskResult(runs=[s for p in parts for s in p.runs], skipped=[s for p in parts for s in p.skipped])
