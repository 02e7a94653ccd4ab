"""class_imbalance counter-evidence from a logged one-class recall (fa40).

A model that answers the majority class everywhere has a recall of 0 for the minority class at
every evaluation; a logged one-class recall (recall, entity_recall, recall_pos...) above 0 at
every evaluation says the model does answer the minority class. Labelled corpus (all kinds):
the condition holds on 12 healthy runs of 2208, 0 class_imbalance of 126, 2 other faulty.
The Q&A fixed hf_bert_tokcls_adam_epsilon_1 (token accuracy 0.975-0.979, entity recall ~0.9)
was read as class_imbalance 37 %.
"""

from __future__ import annotations

import numpy as np
from cause_evidence import evidence_holds as _fired
from cause_evidence import series_run as _run

SAYS = "a one-class recall was logged above zero"
ACC = np.array([0.9754, 0.977, 0.978, 0.9786, 0.9786, 0.9786, 0.9786, 0.9786])
VAL_LOSS = 0.38 * 0.75 ** np.arange(8.0)


def test_a_nonzero_minority_recall_at_every_evaluation_counts_against_class_imbalance():
    recall = np.array([0.897, 0.90, 0.905, 0.91, 0.91, 0.9105, 0.9105, 0.9105])
    run = _run({"val/loss": VAL_LOSS, "val/accuracy": ACC, "val/entity_recall": recall})
    assert _fired("class_imbalance", SAYS, run) is True


def test_a_zero_minority_recall_is_no_counter_evidence():
    run = _run({"val/loss": VAL_LOSS, "val/accuracy": ACC, "val/entity_recall": np.zeros(8)})
    assert _fired("class_imbalance", SAYS, run) is not True
