"""The reader stress set (issue 10): a real run's series rendered in every layout that users'
programs and tools print or write, each read back to the same series - the same canonical
metrics, the same values, the same time axis (up to where the layout's counter starts).

Layouts are those of tutorial outputs and issue reports (Keras ``fit`` verbose 1 and 2, Lightning
and tqdm bars, the Hugging Face Trainer's printed dicts, scikit-learn's MLP, XGBoost and
LightGBM, logging prefixes, fastai/Markdown/ASCII tables, CSV with ``;`` or tabs, nested JSON
lines, a history dict, a W&B run's ``output.log``, an MLflow store). The source is a real
small run's history (fixtures/qa_keras kx_fraud_imbalance, 20 epochs), rendered at test time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import traindx

SOURCE = Path(__file__).parent.parent / "fixtures" / "qa_keras" / "logs" / "kx_fraud_imbalance" / "buggy"
KEYS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy")


def _source() -> dict[str, np.ndarray]:
    (run,) = traindx.read(SOURCE)
    assert all(run.series[k].unit == "epoch" and list(run.series[k].steps) == list(range(20)) for k in KEYS)
    return {k: np.asarray(run.series[k].values, dtype=float) for k in KEYS}


SRC = _source()
N = len(SRC["train/loss"])
L, A, VL, VA = (SRC[k] for k in KEYS)
BATCHES = 10  # a Keras bar's batches per epoch


def _f(x: float, spell: str = "nan") -> str:
    return f"{x:.6f}" if math.isfinite(x) else spell


# Each layout: (files to write {name: text}, the path to read, the metrics it carries, the
# axis unit, the first counter value of the layout's x axis).
Layout = tuple[dict[str, str], str, tuple[str, ...], str, int]


def keras_v2() -> Layout:
    text = "".join(
        f"Epoch {e + 1}/{N}\n{BATCHES}/{BATCHES} - 0s - 2ms/step - loss: {L[e]:.6f} - accuracy: {A[e]:.6f}"
        f" - val_loss: {VL[e]:.6f} - val_accuracy: {VA[e]:.6f}\n"
        for e in range(N)
    )
    return {"train.log": text}, "train.log", KEYS, "epoch", 1


def lightning_bar() -> Layout:
    # one bar reused across epochs: every epoch's last state on one line, each rewriting the one before
    text = "".join(
        f"\rEpoch {e}: 100%|##########| 10/10 [00:01<00:00, 25.00it/s, v_num=0, train_loss={L[e]:.6f},"
        f" val_loss={VL[e]:.6f}, val_acc={VA[e]:.6f}]"
        for e in range(N)
    )
    return {"out.txt": text + "\n"}, "out.txt", ("train/loss", "val/loss", "val/accuracy"), "epoch", 0


def tqdm_postfix() -> Layout:
    text = "".join(
        f"epoch {e + 1}: 100%|##########| 19/19 [00:00<00:00, 177.8it/s, loss={L[e]:.6f}, acc={A[e]:.6f}]\n"
        f"val loss {VL[e]:.6f} | val acc {VA[e] * 100:.4f}%\n"
        for e in range(N)
    )
    return {"out.log": text}, "out.log", KEYS, "epoch", 1


def hf_stdout() -> Layout:
    text = "".join(
        f"{{'loss': {L[e]:.6f}, 'grad_norm': 1.5, 'learning_rate': 5e-05, 'epoch': {e + 1}.0}}\n"
        f"{{'eval_loss': {VL[e]:.6f}, 'eval_accuracy': {VA[e]:.6f}, 'eval_runtime': 1.2, 'epoch': {e + 1}.0}}\n"
        for e in range(N)
    )
    return {"stdout.txt": text}, "stdout.txt", ("train/loss", "val/loss", "val/accuracy"), "epoch", 1


def logging_prefixes() -> Layout:
    stamps = ("2024-03-01 12:00:00,123 - root - INFO - ", "[2024-03-01 12:00:00,123][__main__][INFO] - ", "INFO:root:")
    text = "".join(
        f"{stamps[e % 3]}Epoch {e + 1}: loss={L[e]:.6f}, accuracy={A[e]:.6f}, val_loss={VL[e]:.6f}, val_accuracy={VA[e]:.6f}\n"
        for e in range(N)
    )
    return {"run.log": text}, "run.log", KEYS, "epoch", 1


def fastai_table() -> Layout:
    rows = "".join(f"{e:<10d}{L[e]:<12.6f}{VL[e]:<12.6f}{VA[e]:<10.6f}00:01\n" for e in range(N))
    return {"fit.txt": "epoch     train_loss  valid_loss  accuracy  time\n" + rows}, "fit.txt", ("train/loss", "val/loss", "val/accuracy"), "epoch", 0


def markdown_table() -> Layout:
    rows = "".join(f"| {e + 1} | {L[e]:.6f} | {A[e]:.6f} | {VL[e]:.6f} | {VA[e]:.6f} |\n" for e in range(N))
    return {"results.txt": "| epoch | loss | accuracy | val_loss | val_accuracy |\n|---|---|---|---|---|\n" + rows}, "results.txt", KEYS, "epoch", 1


def ascii_table() -> Layout:
    rule = "+-------+----------+----------+\n"
    rows = "".join(f"| {e:<5d} | {L[e]:.6f} | {VL[e]:.6f} |\n" for e in range(N))
    return {"t.log": rule + "| epoch | loss     | val_loss |\n" + rule + rows + rule}, "t.log", ("train/loss", "val/loss"), "epoch", 0


def csv_semicolon() -> Layout:
    rows = "".join(f"{e};{L[e]:.6f};{A[e]:.6f};{VL[e]:.6f};{VA[e]:.6f}\n" for e in range(N))
    return {"h.csv": "epoch;loss;accuracy;val_loss;val_accuracy\n" + rows}, "h.csv", KEYS, "epoch", 0


def tsv() -> Layout:
    rows = "".join(f"{e}\t{L[e]:.6f}\t{VL[e]:.6f}\n" for e in range(N))
    return {"h.tsv": "epoch\tloss\tval_loss\n" + rows}, "h.tsv", ("train/loss", "val/loss"), "epoch", 0


def jsonl_nested() -> Layout:
    text = "".join(
        json.dumps({"epoch": e, "train": {"loss": L[e], "accuracy": A[e]}, "val": {"loss": VL[e], "accuracy": VA[e]}}) + "\n"
        for e in range(N)
    )
    return {"m.jsonl": text}, "m.jsonl", KEYS, "epoch", 0


def history_dict() -> Layout:
    doc = {"loss": list(L), "accuracy": list(A), "val_loss": list(VL), "val_accuracy": list(VA)}
    return {"history.json": json.dumps(doc)}, "history.json", KEYS, "epoch", 0


def history_printed() -> Layout:
    return {"o.txt": "\n".join(f"{k} {[round(float(x), 6) for x in v]}" for k, v in
                               (("loss", L), ("accuracy", A), ("val_loss", VL), ("val_accuracy", VA))) + "\n"}, "o.txt", KEYS, "epoch", 0  # fmt: skip


def wandb_output() -> Layout:
    files = "wandb/run-20240101_000000-abc123/files/"
    summary = json.dumps({"loss": L[-1], "val_loss": VL[-1], "_step": N - 1})
    return {files + "output.log": keras_v2()[0]["train.log"], files + "wandb-summary.json": summary}, "wandb", KEYS, "epoch", 1


def mlflow_store() -> Layout:
    out = {"mlruns/0/meta.yaml": "experiment_id: '0'\nname: Default\n",
           "mlruns/0/r1/meta.yaml": "run_id: r1\nexperiment_id: '0'\nrun_name: r\nstatus: 3\n"}  # fmt: skip
    for name, v in (("loss", L), ("val_loss", VL)):
        out[f"mlruns/0/r1/metrics/{name}"] = "".join(f"{1700000000000 + e} {float(v[e])!r} {e}\n" for e in range(N))
    return out, "mlruns", ("train/loss", "val/loss"), "step", 0


def xgboost_rounds() -> Layout:
    text = "".join(f"[{e}]\tvalidation_0-logloss:{L[e]:.6f}\tvalidation_1-logloss:{VL[e]:.6f}\n" for e in range(N))
    return {"xgb.log": text}, "xgb.log", ("train/loss", "val/loss"), "step", 0


def lightgbm_rounds() -> Layout:
    text = "".join(f"[{e + 1}]\ttraining's binary_logloss: {L[e]:.6f}\tvalid_1's binary_logloss: {VL[e]:.6f}\n" for e in range(N))
    return {"lgb.log": text}, "lgb.log", ("train/loss", "val/loss"), "step", 1


def sklearn_mlp() -> Layout:
    # MLPClassifier/MLPRegressor(verbose=True): an 'Iteration' of the sgd/adam solvers is an epoch
    text = "".join(f"Iteration {e + 1}, loss = {L[e]:.8f}\nValidation score: {0.5 + 0.01 * e:.6f}\n" for e in range(N))
    return {"mlp.log": text}, "mlp.log", ("train/loss",), "epoch", 1


LAYOUTS: dict[str, Callable[[], Layout]] = {f.__name__: f for f in (
    keras_v2, lightning_bar, tqdm_postfix, hf_stdout, logging_prefixes, fastai_table, markdown_table, ascii_table,
    csv_semicolon, tsv, jsonl_nested, history_dict, history_printed, wandb_output, mlflow_store, xgboost_rounds,
    lightgbm_rounds, sklearn_mlp,
)}  # fmt: skip


def _read(tmp: Path, files: dict[str, str], path: str):
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text, encoding="utf-8", newline="")
    (run,) = traindx.read(tmp / path)
    return run


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_reads_back_the_source(layout: str, tmp_path: Path) -> None:
    files, path, keys, unit, first = LAYOUTS[layout]()
    run = _read(tmp_path, files, path)
    assert set(keys) <= set(run.series), sorted(run.series)
    for k in keys:
        s = run.series[k]
        assert s.unit == unit, k
        assert list(s.steps) == list(range(first, first + N)), k
        np.testing.assert_allclose(s.values, SRC[k], rtol=1e-5, atol=1e-6, err_msg=f"{layout}: {k}")


def _bar_states(batches: np.ndarray, every: tuple[int, ...]) -> list[tuple[int, float]]:
    """(k, the mean of the first k batches rounded as Keras prints it) at the states shown."""
    return [(k, round(float(batches[:k].mean()), 4)) for k in every]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "notebook"])
def test_keras_verbose1_states_are_points_at_their_batch(terminal: bool, tmp_path: Path) -> None:
    """Every state of a Keras 3 bar is a point: the mean of the batches since the state before,
    read back from the running means shown; validation once per epoch, at its last batch."""
    epochs, every = 3, (1, 4, 7, BATCHES)
    out, want_steps, want = [], [], []
    for e in range(epochs):
        batches = L[e] * (1 + 0.2 * (np.arange(BATCHES) - 4.5) / 4.5)
        states = _bar_states(batches, every)
        shown = [f"\x1b[1m{k:2d}/{BATCHES}\x1b[0m \x1b[32m━━━━\x1b[0m \x1b[1m0s\x1b[0m 5ms/step - loss: {m:.4f}" for k, m in states]
        shown[-1] += f" - val_loss: {VL[e]:.4f}"
        sep = "\x08" * 40 + "\r" if terminal else "\n"
        out.append(f"Epoch {e + 1}/{epochs}\n" + ("\r" if terminal else "") + sep.join(shown) + "\n")
        j = 0
        for k, _ in states:
            want_steps.append(e * BATCHES + k)
            want.append(float(batches[j:k].mean()))
            j = k
    run = _read(tmp_path, {"output.txt": "".join(out)}, "output.txt")
    loss = run.series["train/loss"]
    assert loss.unit == "step" and list(loss.steps) == want_steps
    np.testing.assert_allclose(loss.values, want, atol=2e-3)  # 4 printed decimals, times k / (k - j)
    assert list(run.series["val/loss"].steps) == [BATCHES * (e + 1) for e in range(epochs)]


@pytest.mark.parametrize(("nan", "inf"), [("nan", "inf"), ("NaN", "Infinity"), ("-nan", "-inf")])
def test_nonfinite_spellings(nan: str, inf: str, tmp_path: Path) -> None:
    text = "".join(
        f"Epoch {e + 1}: loss={_f(L[e]) if e < N - 3 else nan}, val_loss={_f(VL[e]) if e < N - 3 else inf}\n" for e in range(N)
    )
    run = _read(tmp_path, {"t.log": text}, "t.log")
    loss, val = run.series["train/loss"].values, run.series["val/loss"].values
    assert len(loss) == len(val) == N and np.isnan(loss[-3:]).all() and np.isinf(val[-3:]).all()
    np.testing.assert_allclose(loss[:-3], L[:-3], rtol=1e-5)


def test_counters_restarting_each_epoch_continue(tmp_path: Path) -> None:
    """'step 0..2' again each epoch: one increasing step axis, the epoch beside it."""
    text = "".join(f"Epoch {e + 1}, step {s}: loss={L[e]:.6f}\n" for e in range(4) for s in (0, 1, 2))
    run = _read(tmp_path, {"t.log": text}, "t.log")
    assert list(run.series["train/loss"].steps) == list(range(12))


def test_a_global_counter_with_the_runs_total_is_not_taken_for_a_restart(tmp_path: Path) -> None:
    """'iter 700/2400' in epoch 2 counts the whole run (it did not restart): the steps are the
    printed ones, not the epoch times the run's total added on top."""
    text = "".join(
        f"Epoch {e + 1}/4, iter {e * 600 + s}/2400, loss={L[e]:.6f}\n" for e in range(4) for s in (200, 400, 600)
    )
    run = _read(tmp_path, {"t.log": text}, "t.log")
    assert list(run.series["train/loss"].steps) == [e * 600 + s for e in range(4) for s in (200, 400, 600)]


def test_a_counter_restarting_each_epoch_with_its_total_continues_by_the_total(tmp_path: Path) -> None:
    text = "".join(f"Epoch [{e + 1}/4], Step [{s}/600], Loss: {L[e]:.6f}\n" for e in range(4) for s in (200, 400, 600))
    run = _read(tmp_path, {"t.log": text}, "t.log")
    assert list(run.series["train/loss"].steps) == [e * 600 + s for e in range(4) for s in (200, 400, 600)]


def test_keras_evaluate_after_fit_is_the_test_split(tmp_path: Path) -> None:
    files, path, *_ = keras_v2()
    text = files[path] + "313/313 [==============================] - 1s 2ms/step - loss: 0.9000 - accuracy: 0.7100\n"
    run = _read(tmp_path, {path: text}, path)
    assert run.series["train/loss"].unit == "epoch" and len(run.series["train/loss"]) == N  # the last epoch kept
    np.testing.assert_allclose(run.series["train/loss"].values, L, rtol=1e-5)
    assert list(run.series["test/loss"].values) == [0.9]


def test_hf_closing_summary_is_counted_not_a_point(tmp_path: Path) -> None:
    files, path, *_ = hf_stdout()
    text = " 10%|#         | 4/40 [00:01<00:09]" + files[path] + "{'train_runtime': 10.0, 'train_loss': 0.5, 'epoch': 20.0}\n"
    run = _read(tmp_path, {path: text}, path)
    np.testing.assert_allclose(run.series["train/loss"].values, L, rtol=1e-5)
    assert any(p.kind == "skipped" and "1 lines" in p.message for p in run.ingest.problems)


def test_tqdm_states_are_points_at_their_step(tmp_path: Path) -> None:
    """A Lightning/tqdm bar refreshed within each epoch: every state a point at its step (the
    counter restarting each epoch continued by its total); a validation value, which stays in
    the postfix until the next evaluation, only from each epoch's last state."""
    epochs, every = 3, (3, 6, BATCHES)
    text, want_steps, want = "", [], []
    for e in range(epochs):
        carried = f", val_loss={VL[e - 1]:.6f}" if e else ""
        for n, k in enumerate(every):
            x = L[e] + 0.01 * (len(every) - n)
            post = carried if k < BATCHES else f", val_loss={VL[e]:.6f}"
            text += f"\rEpoch {e}: {10 * k}%|{'#' * k}{' ' * (BATCHES - k)}| {k}/{BATCHES} [00:01<00:00, 9.5it/s, v_num=0, train_loss={x:.6f}{post}]"
            want_steps.append(e * BATCHES + k)
            want.append(x)
        text += "\n"
    run = _read(tmp_path, {"out.txt": text}, "out.txt")
    loss = run.series["train/loss"]
    assert loss.unit == "step" and list(loss.steps) == want_steps
    np.testing.assert_allclose(loss.values, want, rtol=1e-5)
    val = run.series["val/loss"]
    assert list(val.steps) == [BATCHES * (e + 1) for e in range(epochs)]
    np.testing.assert_allclose(val.values, VL[:epochs], rtol=1e-5)


def test_tqdm_states_one_per_line(tmp_path: Path) -> None:
    """A bar captured to a file one state per line (Lightning issue reports): each state printed
    twice as its postfix updates is one point; Colab's bar without pipes; validation values only
    from a complete bar, though the postfix carries them on."""
    text = "".join(
        f"Epoch {e}:  {10 * k}%|###       | {k}/{BATCHES} [00:08<02:29,  8.77s/it, loss={L[e] + 1:.6f}, v_num=0{c}]\n"
        f"Epoch {e}:  {10 * k}% {k}/{BATCHES} [00:08<02:29,  8.77s/it, loss={L[e] + 0.01 * k:.6f}, v_num=0{c}]\n"
        for e in range(3)
        for k in (5, BATCHES)
        for c in [f", val_loss={VL[e]:.6f}" if k == BATCHES else (f", val_loss={VL[e - 1]:.6f}" if e else "")]
    )
    run = _read(tmp_path, {"o.log": text}, "o.log")
    loss = run.series["train/loss"]
    assert list(loss.steps) == [5, 10, 15, 20, 25, 30] and not run.ingest.problems
    np.testing.assert_allclose(loss.values, [L[e] + 0.01 * k for e in range(3) for k in (5, BATCHES)], rtol=1e-5)
    assert list(run.series["val/loss"].steps) == [10, 20, 30]


def test_a_counter_printed_once_per_epoch_keeps_the_epoch_axis(tmp_path: Path) -> None:
    text = "".join(f"Epoch [{e + 1}/{N}], Step [600/600], Loss: {L[e]:.6f}\n" for e in range(N))
    loss = _read(tmp_path, {"t.log": text}, "t.log").series["train/loss"]
    assert loss.unit == "epoch" and list(loss.steps) == list(range(1, N + 1))


def test_a_long_keras_epoch_on_one_terminal_line_is_recognized(tmp_path: Path) -> None:
    """Keras verbose=1 on a terminal writes a whole epoch on one line ('\\r' and backspaces):
    the first 8 KiB the file is recognized from hold part of epoch 1 only - its states count as
    lines printing metrics (on main before issue 10's fix: "not a recognized log file")."""
    text = "Epoch 1/2\n" + "".join(
        f"\r{k:4d}/200 [==>...] - ETA: 1s - loss: {2.3 - 0.001 * k:.4f}" + "\x08" * 80 for k in range(1, 200)
    ) + "\r 200/200 [======] - 2s 10ms/step - loss: 2.1000 - val_loss: 2.2000\nEpoch 2/2\n 200/200 [======] - loss: 1.9\n"
    run = _read(tmp_path, {"train.log": text}, "train.log")
    assert run.series["train/loss"].unit == "step" and len(run.series["train/loss"]) == 201


def test_a_classification_report_after_training_is_no_table(tmp_path: Path) -> None:
    report = ("              precision    recall  f1-score   support\n           0       0.95      0.90      0.92       100\n"
              "           1       0.91      0.96      0.93       100\n\n    accuracy                           0.93       200\n")  # fmt: skip
    files, path, *_ = keras_v2()
    run = _read(tmp_path, {path: files[path] + report}, path)
    assert run.series["train/loss"].unit == "epoch" and "precision" not in str(sorted(run.series))


def test_a_glog_prefixed_iteration_counter_stays_a_step(tmp_path: Path) -> None:
    """Caffe's solver prints 'Iteration 100, loss = 0.5' after a glog prefix: solver steps, not
    scikit-learn's per-epoch 'Iteration 3, loss = ...' (read on the epoch axis)."""
    text = "".join(f"I0715 10:00:{e:02d}.000 123 solver.cpp:228] Iteration {100 * (e + 1)}, loss = {L[e]:.6f}\n"
                   for e in range(N))
    loss = _read(tmp_path, {"caffe.log": text}, "caffe.log").series["train/loss"]
    assert loss.unit == "step" and list(loss.steps) == [100 * (e + 1) for e in range(N)]
