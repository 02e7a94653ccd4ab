"""The cause vocabulary (mirrors ``shared/causes.md``): ids every rule, label and fixture uses.

Ids are stable: a retired id is never reused, a renamed one keeps an alias in ``ALIASES``.
"""

from __future__ import annotations

CAUSES: dict[str, tuple[str, str]] = {
    "lr_too_high": ("optimization", "step size too large: loss rises, oscillates or explodes"),
    "lr_too_low": ("optimization", "step size too small: loss creeps down or plateaus"),
    "lr_schedule_bad": ("optimization", "schedule decays to ~0 too early, lacks warm-up, or grows"),
    "too_few_epochs": ("optimization", "training stopped while the loss was still falling steadily"),
    "optimizer_choice": ("optimization", "optimizer or its settings unsuited to the problem"),
    "batch_size_bad": ("optimization", "batch so small the gradient is noise, or so large few steps are taken"),
    "too_much_regularization": ("optimization", "weight decay / L2 / dropout dominates the data loss"),
    "exploding_gradients": ("optimization", "gradient norms grow without bound"),
    "vanishing_gradients": ("architecture", "gradients shrink toward zero in early layers"),
    "dying_relu": ("architecture", "a large share of ReLU units output 0 for every input"),
    "bad_weight_init": ("architecture", "weights zero, constant or badly scaled at start"),
    "model_too_small": ("architecture", "capacity too low: training loss stays high"),
    "overfitting": ("generalization", "train loss keeps falling while validation loss rises"),
    "loss_sign_flipped": ("implementation", "the optimized quantity is the negative of the loss"),
    "softmax_wrong_axis": ("implementation", "softmax normalizes over the batch, not the classes"),
    "logits_loss_mismatch": ("implementation", "probabilities fed to a logits loss, or the reverse"),
    "activation_on_output": ("implementation", "a ReLU/sigmoid on the final layer clips the logits"),
    "wrong_loss_function": ("implementation", "loss does not fit the task"),
    "shape_broadcast_bug": ("implementation", "silent broadcasting in the loss, e.g. (N,1) vs (N,)"),
    "gradients_not_flowing": ("implementation", "part of the model gets no gradient"),
    "updates_not_applied": ("implementation", "gradients computed but parameters never change"),
    "grad_not_zeroed": ("implementation", "gradients accumulate across steps"),
    "train_mode_not_set": ("implementation", "model left in inference mode during training"),
    "numerical_instability": ("implementation", "log(0), division by zero or exp overflow give inf/NaN"),
    "ranks_desynchronized": ("implementation", "data-parallel replicas drift apart: gradients not all-reduced, parameters not broadcast, or ranks on other data"),
    "inputs_not_normalized": ("data", "raw inputs on a large scale"),
    "labels_corrupted": ("data", "labels shuffled, misaligned or heavily noisy"),
    "nonfinite_in_data": ("data", "NaN/inf values in inputs or targets"),
    "class_imbalance": ("data", "one class dominates; the model predicts the majority class"),
    "distribution_shift": ("data", "training and validation data come from different distributions"),
    "data_leakage": ("data", "validation data overlaps training data"),
    "insufficient_data": ("data", "too few training examples for the model"),
    "healthy": ("-", "no fault: the run is fine"),
}

#: Renamed ids: old -> new. Never reuse a retired id.
ALIASES: dict[str, str] = {}


def canonical_cause(cause_id: str) -> str:
    return ALIASES.get(cause_id, cause_id)
