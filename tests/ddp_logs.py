"""Per-rank logs of real torch.distributed jobs (gloo, CPU processes) for tests/test_multirank.py.

``write_jobs(out, world=2)`` spawns ``world`` processes once; each trains, as rank r:

- ``healthy/rank{r}/``: a DistributedDataParallel MLP (gradients all-reduced, parameters
  broadcast from rank 0 at wrap time), each rank on its own shard of the data (the
  DistributedSampler split), logging ``train/loss`` and ``train/grad_norm`` with tensorboardX;
- ``desync/metrics_rank{r}.csv``: the same MLP without DDP - no gradient all-reduce - and
  rank 1 with another data seed (its own initialization and batches): the replicas drift apart;
- ``nan_rank/metrics_rank{r}.csv``: DDP as in ``healthy``, but one input of rank 1's batches
  is NaN from step 60 on: rank 1's loss is NaN at step 60; the all-reduce carries the NaN
  gradient to rank 0, whose loss follows one step later.

- ``straggler/metrics_rank{r}.csv``: DDP as in ``healthy``, rank 1's batch making 30 ms
  slower every step (a slow data loader); every CSV also logs ``data_time``.

Small: 120 steps of batch 32 on make_classification data; a few seconds per job.
"""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path

STEPS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data(seed: int):
    import torch
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=2048, n_features=16, n_informative=8, n_classes=3, random_state=seed)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _model(seed: int):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))


def _grad_norm(model) -> float:
    import torch

    return float(torch.norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None])))


def _train(model, x, y, rank: int, world: int, seed: int, log, nan_from: int | None = None,
           slow: float = 0.0) -> None:  # fmt: skip
    import time

    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(seed * 1000 + rank)
    shard = torch.arange(rank, x.shape[0], world)  # the DistributedSampler split
    lossf = torch.nn.CrossEntropyLoss()
    for step in range(STEPS):
        t0 = time.perf_counter()
        if slow:
            time.sleep(slow)  # a slow data loader on this rank
        idx = shard[torch.randint(0, shard.numel(), (32,), generator=g)]
        xb = x[idx].clone()
        data_time = time.perf_counter() - t0
        if nan_from is not None and step >= nan_from:
            xb[0, 0] = float("nan")
        loss = lossf(model(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        log(step, loss.item(), _grad_norm(model), data_time)
        opt.step()


def _csv_logger(path: Path):
    f = open(path, "w", newline="")
    w = csv.writer(f)
    w.writerow(["step", "train_loss", "grad_norm", "data_time"])
    return f, lambda step, loss, gn, dt: w.writerow([step, loss, gn, dt])


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist
    from tensorboardX import SummaryWriter

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        root = Path(out)
        x, y = _data(0)
        # healthy DDP: every rank builds the model with its own seed; DDP broadcasts rank 0's
        ddp = torch.nn.parallel.DistributedDataParallel(_model(rank))
        w = SummaryWriter(str(root / "healthy" / f"rank{rank}"))
        def tb(s, lo, gn, dt):
            w.add_scalar("train/loss", lo, s)
            w.add_scalar("train/grad_norm", gn, s)
            w.add_scalar("train/data_time", dt, s)

        _train(ddp, x, y, rank, world, 0, tb)
        w.close()
        # desynchronized: no DDP wrapper (no all-reduce), rank 1 on another data seed
        seed = 0 if rank == 0 else 1
        xs, ys = _data(seed)
        f, log = _csv_logger(root / "desync" / f"metrics_rank{rank}.csv")
        _train(_model(seed), xs, ys, rank, world, seed, log)
        f.close()
        # one rank's inputs turn NaN part way
        ddp = torch.nn.parallel.DistributedDataParallel(_model(0))
        f, log = _csv_logger(root / "nan_rank" / f"metrics_rank{rank}.csv")
        _train(ddp, x, y, rank, world, 0, log, nan_from=60 if rank == 1 else None)
        f.close()
        # a straggler: rank 1's data loading takes 30 ms longer every step
        ddp = torch.nn.parallel.DistributedDataParallel(_model(0))
        f, log = _csv_logger(root / "straggler" / f"metrics_rank{rank}.csv")
        _train(ddp, x, y, rank, world, 0, log, slow=0.03 if rank == 1 else 0.0)
        f.close()
        dist.barrier()
    finally:
        dist.destroy_process_group()


def write_jobs(out: Path, world: int = 2) -> Path:
    import torch.multiprocessing as mp

    for job in ("healthy", "desync", "nan_rank", "straggler"):
        (out / job).mkdir(parents=True, exist_ok=True)
    mp.spawn(_worker, args=(world, _free_port(), str(out)), nprocs=world, join=True)
    return out


if __name__ == "__main__":
    import sys

    write_jobs(Path(sys.argv[1]))
