"""Real HuggingFace ``Trainer`` runs for the plan-fact tests (tests/test_plan_facts.py),
written by transformers (and its MLflow callback) in a child process.

A linear classifier on 40 random examples, batch 4 (10 loader batches per epoch), trains
with ``num_train_epochs=8`` and: ``max_steps=6`` (``cut``: max_steps overrides the epochs,
the run stops at 0.6 epoch), ``max_steps=-1`` (``full``: the epochs decide, 80 steps), and
``gradient_accumulation_steps=2`` with ``max_steps=-1`` (``accum``: 5 optimizer steps per
epoch). Each run leaves ``<name>/trainer_state.json`` (``Trainer.save_state``) and an MLflow
file store ``<name>/mlruns`` holding every ``TrainingArguments`` value as a param.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent(
    """
    import os, sys, warnings
    warnings.filterwarnings("ignore")
    import torch
    from torch import nn
    from transformers import Trainer, TrainingArguments

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x, labels=None):
            logits = self.fc(x)
            return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 4, generator=g), torch.randint(0, 3, (40,), generator=g)
    data = [{"x": x[i], "labels": y[i]} for i in range(40)]
    for name, max_steps, accum in (("cut", 6, 1), ("full", -1, 1), ("accum", -1, 2)):
        out = os.path.join(sys.argv[1], name)
        os.environ["MLFLOW_TRACKING_URI"] = "file:" + os.path.join(out, "mlruns")
        args = TrainingArguments(
            output_dir=out, num_train_epochs=8, max_steps=max_steps, per_device_train_batch_size=4,
            gradient_accumulation_steps=accum, logging_steps=1, save_strategy="no", report_to=["mlflow"],
            use_cpu=True, disable_tqdm=True, learning_rate=1e-2, seed=0,
        )
        trainer = Trainer(model=Linear(), args=args, train_dataset=data)
        trainer.train()
        trainer.save_state()
    """
)


def write_hf_runs(root: Path) -> Path:
    """Train the three runs under ``root`` (about 10 s: transformers' import)."""
    env = dict(os.environ, MLFLOW_ALLOW_FILE_STORE="true", TRANSFORMERS_VERBOSITY="error",
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")  # fmt: skip
    subprocess.run([sys.executable, "-c", _SCRIPT, str(root)], check=True, env=env, capture_output=True, timeout=300)
    return root
