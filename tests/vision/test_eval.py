"""Evaluation metrics and the pair-file reader, on small hand-checked numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facematch_eval.eval import (
    accuracy,
    best_threshold,
    cross_validated_accuracy,
    far_table,
    read_pairs,
    roc_auc,
    tar_at_far,
    threshold_at_far,
)


def test_reads_same_and_different_pairs(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("2\nAaron_Peirsol\t1\t2\nAbdoulaye_Wade\t4\tLinda_Dano\t1\n")
    pairs = read_pairs(path)
    assert [(p.first, p.second, p.same) for p in pairs.pairs] == [
        ("Aaron_Peirsol/Aaron_Peirsol_0001.jpg", "Aaron_Peirsol/Aaron_Peirsol_0002.jpg", True),
        ("Abdoulaye_Wade/Abdoulaye_Wade_0004.jpg", "Linda_Dano/Linda_Dano_0001.jpg", False),
    ]
    assert pairs.images()[0] == "Aaron_Peirsol/Aaron_Peirsol_0001.jpg"


def test_view2_header_declares_the_folds(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    lines = ["2\t1"] + ["A\t1\t2", "A\t1\tB\t1"] * 2
    path.write_text("\n".join(lines) + "\n")
    folds = read_pairs(path).folds
    assert [f.tolist() for f in folds] == [[0, 1], [2, 3]]


def test_best_threshold_separates_separable_scores() -> None:
    scores = np.array([0.9, 0.8, 0.3, 0.2])
    labels = np.array([True, True, False, False])
    t = best_threshold(scores, labels)
    assert 0.3 < t < 0.8
    assert accuracy(scores, labels, t) == 1.0


def test_auc_counts_ties_as_half() -> None:
    labels = np.array([True, False])
    assert roc_auc(np.array([0.5, 0.5]), labels) == 0.5
    assert roc_auc(np.array([0.6, 0.5]), labels) == 1.0


def test_threshold_at_far_accepts_at_most_that_share_of_impostors() -> None:
    impostors = np.linspace(0, 1, 1000)
    t = threshold_at_far(impostors, 0.01)
    assert np.mean(impostors >= t) <= 0.01
    assert np.mean(impostors >= t - 0.002) > 0.01


def test_tar_at_far_on_pairs() -> None:
    scores = np.array([0.95, 0.9, 0.35, 0.4, 0.3, 0.2])
    labels = np.array([True, True, True, False, False, False])
    tar, t = tar_at_far(scores, labels, 0.0)
    assert t > 0.4 and tar == pytest.approx(2 / 3)


def test_cross_validation_fits_each_fold_on_the_others() -> None:
    rng = np.random.default_rng(1)
    labels = np.tile([True, False], 50)
    scores = np.where(labels, 0.8, 0.2) + rng.normal(0, 0.01, 100)
    folds = [np.arange(100)[k::10] for k in range(10)]
    assert cross_validated_accuracy(scores, labels, folds) == 1.0


def test_far_table_is_monotone_and_reaches_one_impostor() -> None:
    impostors = np.random.default_rng(2).normal(0.0, 0.2, 100_000)
    table = np.array(far_table(impostors))
    assert np.all(np.diff(table[:, 0]) > 0)
    assert np.all(np.diff(table[:, 1]) <= 0)
    assert table[0, 1] == 1.0
    assert table[:, 1][table[:, 1] > 0].min() <= 1e-5


def test_people_disjoint_folds_keep_each_person_in_one_fold() -> None:
    from facematch_eval.eval import Pair, people_disjoint_folds

    pairs = [Pair(f"P{i}/P{i}_0001.jpg", f"P{i}/P{i}_0002.jpg", True) for i in range(30)]
    # P0 and P1 meet in a different-people pair, so all their pairs must share a fold.
    pairs += [Pair("P0/P0_0001.jpg", "P1/P1_0001.jpg", False)]
    pairs += [Pair(f"P{i}/P{i}_0001.jpg", f"Q{i}/Q{i}_0001.jpg", False) for i in range(2, 12)]
    folds = people_disjoint_folds(pairs, n_folds=10)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(pairs)))
    fold_of_person: dict[str, int] = {}
    for k, fold in enumerate(folds):
        for i in fold:
            for path in (pairs[i].first, pairs[i].second):
                assert fold_of_person.setdefault(path.split("/")[0], k) == k
    assert max(len(f) for f in folds) - min(len(f) for f in folds) <= 3


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_p_value() -> None:
    from facematch_eval.eval import mcnemar

    first = np.array([True] * 90 + [True] * 8 + [False] * 2)
    second = np.array([True] * 90 + [False] * 8 + [True] * 2)
    b, c, p = mcnemar(first, second)
    assert (b, c) == (8, 2)
    # two-sided binomial(10, 0.5) tail at 2: 2 * (1 + 10 + 45) / 1024
    assert p == pytest.approx(2 * 56 / 1024)
    assert mcnemar(first, first) == (0, 0, 1.0)
