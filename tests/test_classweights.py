"""loss_minority_weight_ratio: which way a class-weighted loss leans (adapters/_common/classweights.py)."""

import pytest

from traindx.adapters._common.classweights import minority_weight_ratio, torch_loss_weights


def test_weights_favouring_the_rarest_class_give_a_ratio_above_one():
    # qa_mixed43's GRU fix: 92 % majority, inverse-frequency weights 0.27..9.4
    counts = [27420, 900, 830, 850]
    w = {c: 30000 / (4 * n) for c, n in enumerate(counts)}
    assert minority_weight_ratio(w, counts) == pytest.approx(27420 / 830)


def test_inverted_weights_give_a_ratio_below_one():
    assert minority_weight_ratio({0: 1.0, 1: 1 / 30}, [967, 33]) == pytest.approx(1 / 30)


def test_a_class_missing_from_the_weights_weighs_one_as_in_keras():
    assert minority_weight_ratio({1: 8.0}, [900, 100]) == pytest.approx(8.0)
    assert minority_weight_ratio({2: 8.0}, [900, 100, 0]) == pytest.approx(1.0)  # class 2 never seen


def test_no_ratio_without_two_distinct_counts_or_with_a_nonpositive_weight():
    assert minority_weight_ratio({0: 1.0, 1: 5.0}, [100]) is None
    assert minority_weight_ratio({0: 1.0, 1: 5.0}, [100, 100]) is None
    assert minority_weight_ratio({0: 1.0, 1: 0.0}, [900, 100]) is None


def test_torch_pos_weight_is_the_positive_class_against_one():
    assert torch_loss_weights(None, [30.0]) == {0: 1.0, 1: 30.0}
    assert torch_loss_weights(None, [2.0, 4.0]) == {0: 1.0, 1: 3.0}  # several labels: their mean
    assert torch_loss_weights([0.5, 2.0, 1.0], None) == {0: 0.5, 1: 2.0, 2: 1.0}
    assert torch_loss_weights(None, None) is None
