"""svgan_tf.metrics.scores: KID and IS against independent computations and hand-computed cases."""

import itertools
import math

import numpy as np
import pytest

from svgan_tf.metrics.scores import inception_score, kernel_inception_distance, kid_draws, softmax


def _textbook_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, by explicit sums over index pairs."""
    m, d = x.shape

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


# --------------------------------------------------------------------------------------------------
# KID.


def test_kid_matches_the_textbook_estimator():
    rng = np.random.RandomState(3)
    real = rng.randn(23, 5)
    fake = rng.randn(17, 5) * 1.3 + 0.4
    draws = kid_draws(len(real), len(fake), num_subsets=4, max_subset_size=9, seed=1)
    want = np.mean([_textbook_mmd2(fake[f], real[r]) for f, r in draws])
    assert kernel_inception_distance(real, fake, draws) == pytest.approx(want, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.RandomState(0)
    real = rng.randn(400, 16)
    same = rng.randn(400, 16)
    shifted = rng.randn(400, 16) + 0.5
    draws = kid_draws(400, 400, num_subsets=10, max_subset_size=200, seed=0)
    same_kid = kernel_inception_distance(real, same, draws)
    shifted_kid = kernel_inception_distance(real, shifted, draws)
    assert abs(same_kid) < 0.01
    assert shifted_kid > 0.1
    assert shifted_kid > 20 * abs(same_kid)


def test_kid_reads_only_the_drawn_rows():
    """The feature arguments only need __getitem__(index array): a store holding just the drawn real rows works."""
    rng = np.random.RandomState(5)
    real = rng.randn(1000, 4)
    fake = rng.randn(30, 4)
    draws = kid_draws(len(real), len(fake), num_subsets=3, max_subset_size=10, seed=2)

    class Sparse:
        def __init__(self, rows):
            self.rows = rows

        def __getitem__(self, indices):
            return np.stack([self.rows[int(i)] for i in indices])

    needed = {int(i) for _, r in draws for i in r}
    sparse = Sparse({i: real[i] for i in needed})
    assert kernel_inception_distance(sparse, fake, draws) == kernel_inception_distance(real, fake, draws)


def test_kid_draws_follow_the_reference_order_and_seed():
    draws = kid_draws(50, 20, num_subsets=3, max_subset_size=15, seed=7)
    again = kid_draws(50, 20, num_subsets=3, max_subset_size=15, seed=7)
    other = kid_draws(50, 20, num_subsets=3, max_subset_size=15, seed=8)
    rng = np.random.RandomState(7)
    for (fake, real), (fake2, real2) in zip(draws, again):
        np.testing.assert_array_equal(fake, fake2)
        np.testing.assert_array_equal(real, real2)
        assert fake.dtype == real.dtype == np.int64 and len(fake) == len(real) == 15
        assert len(set(fake.tolist())) == 15 and fake.max() < 20 and real.max() < 50
        np.testing.assert_array_equal(fake, rng.choice(20, 15, replace=False))  # generated rows first
        np.testing.assert_array_equal(real, rng.choice(50, 15, replace=False))
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(draws, other))
    assert len(kid_draws(5, 8, num_subsets=2, max_subset_size=1000)[0][0]) == 5  # m = min(n_real, n_fake, max)


def test_kid_rejects_bad_input():
    rng = np.random.RandomState(0)
    real, fake = rng.randn(10, 3), rng.randn(10, 3)
    draws = kid_draws(10, 10, num_subsets=2, max_subset_size=4)
    with pytest.raises(ValueError, match="at least 2 rows"):
        kid_draws(1, 10)
    with pytest.raises(ValueError, match="empty"):
        kernel_inception_distance(real, fake, [])
    with pytest.raises(ValueError, match="feature dimensions"):
        kernel_inception_distance(rng.randn(10, 4), fake, draws)
    bad = fake.copy()
    bad[:] = np.nan
    with pytest.raises(ValueError, match="fake_features.*non-finite"):
        kernel_inception_distance(real, bad, draws)
    with pytest.raises(ValueError, match="real_features.*cannot read"):
        kernel_inception_distance(real[:2], fake, draws)
    with pytest.raises(ValueError, match="every subset must have 4"):
        kernel_inception_distance(real, fake, [draws[0], (draws[1][0][:3], draws[1][1][:3])])


# --------------------------------------------------------------------------------------------------
# IS.


def test_is_of_uniform_probabilities_is_one():
    mean, std = inception_score(np.full((20, 7), 1 / 7), num_splits=4)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_is_of_k_one_hot_classes_equally_often_is_k():
    k = 5
    probs = np.tile(np.eye(k), (6, 1))  # 30 rows: each split of 10 holds every class twice
    mean, std = inception_score(probs, num_splits=3)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_is_of_a_small_case_computed_by_hand():
    probs = np.array([[0.5, 0.5, 0.0],
                      [0.5, 0.0, 0.5],
                      [0.0, 0.5, 0.5]])
    # One split: p(y) = (1/3, 1/3, 1/3); each row's KL = 2 * 0.5 * log(0.5 / (1/3)) = log(1.5); IS = exp(log 1.5).
    mean, std = inception_score(probs, num_splits=1)
    assert mean == pytest.approx(1.5, rel=1e-12) and std == 0.0
    # Three splits of one row each: p(y) is the row itself, KL = 0, IS = 1 in every split.
    assert inception_score(probs, num_splits=3) == pytest.approx((1.0, 0.0))


def test_is_splits_and_shuffle():
    # First half confident one-hot over 2 classes (IS 2), second half uniform (IS 1): mean 1.5, std 0.5.
    probs = np.concatenate([np.tile(np.eye(2), (5, 1)), np.full((10, 2), 0.5)])
    assert inception_score(probs, num_splits=2) == pytest.approx((1.5, 0.5))
    shuffled = probs.copy()
    np.random.RandomState(42).shuffle(shuffled)
    assert inception_score(probs, num_splits=2, shuffle_seed=42) == pytest.approx(
        inception_score(shuffled, num_splits=2))
    assert inception_score(probs, num_splits=2, shuffle_seed=42) != pytest.approx((1.5, 0.5))
    assert probs[0, 0] == 1 and probs[-1, 0] == 0.5  # the caller's array is not shuffled


def test_is_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[N, num_classes\]"):
        inception_score(np.ones(4))
    with pytest.raises(ValueError, match="cannot make 10"):
        inception_score(np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="non-finite"):
        inception_score(np.array([[math.nan, 1.0]] * 10))
    with pytest.raises(ValueError, match="negative"):
        inception_score(np.array([[-0.5, 1.5]] * 10))
    with pytest.raises(ValueError, match="row 3 sums to 2"):
        inception_score(np.array([[0.5, 0.5]] * 3 + [[1.0, 1.0]] + [[0.5, 0.5]] * 6))


def test_softmax_is_stable_and_normalised():
    probs = softmax(np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, math.log(2.0)]]))
    e = np.exp([-1.0, 0.0, -2.0])
    np.testing.assert_allclose(probs[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(probs[1], [0.25, 0.25, 0.5], rtol=1e-14)
    assert probs.dtype == np.float64 and softmax(np.zeros((0, 4))).shape == (0, 4)
