"""Read a HuggingFace ``Trainer`` state file: ``trainer_state.json``'s ``log_history``.

Each entry of ``log_history`` is a metric dict (``{"loss": .., "learning_rate": ..,
"grad_norm": .., "epoch": 0.5, "step": 10}`` or ``{"eval_loss": .., "step": 50}``); they are
read like the lines of a JSONL log, with the entry index standing for the line.
"""

from __future__ import annotations

from pathlib import Path

from traindx.errors import ReadError
from traindx.readers.jsonl import flatten_record, load_document, records_to_log
from traindx.readers.raw import RawLog

NAME = "trainer_state.json"


def read_hf_state(path: str | Path) -> RawLog:
    src = str(path)
    doc = load_document(path)
    history = doc.get("log_history") if isinstance(doc, dict) else None
    if not isinstance(history, list):
        raise ReadError(src, "no 'log_history' list; expected a HuggingFace Trainer state file")
    log = RawLog(path=src)
    for key, field_ in (("max_steps", "max_steps"), ("num_train_epochs", "epochs")):
        value = doc.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            log.plan[field_] = int(value)
    # the Trainer's epoch counter at its last step counts loader passes (a fraction of one
    # mid-epoch): global_step / epoch is the optimizer steps of one epoch (what max_steps counts)
    step, epoch = doc.get("global_step"), doc.get("epoch")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0 and isinstance(epoch, float | int):
        if not isinstance(epoch, bool) and epoch > 0 and round(step / epoch) >= 1:
            log.plan["steps_per_epoch"] = round(step / epoch)
    for key in ("train_batch_size", "num_train_epochs", "max_steps"):
        value = doc.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            log.hyperparameters[key] = value
    if isinstance(doc.get("trial_params"), dict):  # a hyperparameter search's trial
        from traindx.readers.hparams import flatten

        log.hyperparameters.update(flatten(doc["trial_params"]))
    records = []
    # The Trainer's end-of-training entry ({"train_runtime", "train_loss", ...}) holds the mean
    # loss of the whole run at the last step; where step losses were logged it would replace the
    # last step's loss (and read as a resumed run), so its train_loss is left out then.
    step_losses = any(isinstance(e, dict) and "loss" in e for e in history)
    for i, entry in enumerate(history):
        if isinstance(entry, dict):
            if step_losses and "train_runtime" in entry:
                entry = {k: v for k, v in entry.items() if k != "train_loss"}
            records.append((i, flatten_record(entry)))
        else:
            log.dropped_records += 1
            log.problem("corrupt", f"{src}: log_history[{i}] is not an object; skipped", 1)
    if not records:
        raise ReadError(src, "log_history is empty; the Trainer logged nothing yet")
    return records_to_log(src, records, log)
