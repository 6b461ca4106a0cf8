"""kfold_indices: a seeded, class-stratified partition of the training set into folds."""

from __future__ import annotations

import numpy as np
import pytest

from crelu_repro.data import kfold_indices

FOLDS = 10


def balanced() -> np.ndarray:
    return np.random.default_rng(0).permutation(np.repeat(np.arange(10), 50))  # 500, 50 per class


def uneven() -> np.ndarray:
    counts = [37, 5, 101, 1, 23, 0, 64, 9, 10, 11]  # below, at and above FOLDS; one class empty
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(1).permutation(labels)


LABELS = {"balanced": balanced, "uneven": uneven}


def all_folds(labels: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [kfold_indices(labels, FOLDS, f, seed) for f in range(FOLDS)]


@pytest.fixture(params=sorted(LABELS))
def labels(request) -> np.ndarray:
    return LABELS[request.param]()


def test_val_folds_partition_the_set(labels):
    vals = [val for _, val in all_folds(labels, seed=0)]
    joined = np.concatenate(vals)
    assert len(joined) == len(labels)  # disjoint: no index in two folds
    assert np.array_equal(np.sort(joined), np.arange(len(labels)))  # covering: every index once
    for val in vals:
        assert len(np.unique(val)) == len(val)


def test_train_and_val_are_complementary(labels):
    for train, val in all_folds(labels, seed=0):
        assert len(np.intersect1d(train, val)) == 0
        assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(len(labels)))
        assert len(np.unique(train)) == len(train)
        assert train.dtype.kind == val.dtype.kind == "i"


def test_fold_sizes_differ_by_at_most_one(labels):
    sizes = [len(val) for _, val in all_folds(labels, seed=3)]
    assert max(sizes) - min(sizes) <= 1
    assert sum(sizes) == len(labels)


def test_stratified_per_class(labels):
    folds = all_folds(labels, seed=3)
    for c in np.unique(labels):
        per_fold = [int(np.sum(labels[val] == c)) for _, val in folds]
        assert sum(per_fold) == int(np.sum(labels == c))
        assert max(per_fold) - min(per_fold) <= 1, (c, per_fold)


def test_deterministic_for_a_seed(labels):
    for (ta, va), (tb, vb) in zip(all_folds(labels, 5), all_folds(labels.copy(), 5), strict=True):
        assert np.array_equal(ta, tb) and np.array_equal(va, vb)


def test_different_seed_gives_different_folds(labels):
    a, b = all_folds(labels, 5), all_folds(labels, 6)
    assert any(not np.array_equal(va, vb) for (_, va), (_, vb) in zip(a, b, strict=True))
    assert not np.array_equal(a[0][1], b[0][1])


def test_folds_are_shuffled_not_strided():
    """Sorted labels: an unshuffled deal would make fold 0 every FOLDS-th index."""
    labels = np.repeat(np.arange(2), 100)
    _, val = kfold_indices(labels, FOLDS, 0, seed=0)
    assert not np.array_equal(val, np.arange(0, 200, FOLDS))
    assert np.sum(labels[val] == 0) == np.sum(labels[val] == 1) == 10


def test_small_classes_spread_over_folds():
    """Many classes smaller than FOLDS: the deal continues across classes, so no fold gets them all."""
    labels = np.repeat(np.arange(30), 3)  # 90 images, 3 per class
    folds = all_folds(labels, seed=0)
    sizes = [len(val) for _, val in folds]
    assert sizes == [9] * FOLDS
    for c in range(30):
        per_fold = [int(np.sum(labels[val] == c)) for _, val in folds]
        assert max(per_fold) <= 1
