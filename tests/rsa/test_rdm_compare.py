"""RDMs and comparisons: parity with rsatoolbox, crossnobis unbiasedness, descriptors."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.data.containers import TrialData
from neurodecode.data.errors import DataError
from neurodecode.rsa.compare import COMPARISONS, compare
from neurodecode.rsa.rdm import RDMs, calc_rdm, noise_precision

RSA_NAMES = {
    "cosine": "cosine", "corr": "corr", "spearman": "spearman", "tau-a": "tau-a",
    "rho-a": "rho-a", "cosine-whitened": "cosine_cov", "corr-whitened": "corr_cov",
}


def _design(n_cond=7, n_runs=4, p=25, seed=0):
    rng = np.random.default_rng(seed)
    cond = np.tile(np.arange(n_cond), n_runs)
    run = np.repeat(np.arange(n_runs), n_cond)
    return rng.standard_normal((len(cond), p)), cond, run, rng


@pytest.mark.parametrize("method", ["euclidean", "correlation", "mahalanobis", "crossnobis"])
def test_rdm_parity_with_rsatoolbox(method):
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm as rsa_calc_rdm

    X, cond, run, rng = _design()
    # shuffle trial order: both tools must group by condition, not by position
    order = rng.permutation(len(cond))
    X, cond, run = X[order], cond[order], run[order]
    A = rng.standard_normal((X.shape[1], X.shape[1]))
    prec = A @ A.T / X.shape[1] + np.eye(X.shape[1])
    kw = {"noise": prec} if method in ("mahalanobis", "crossnobis") else {}
    ref = rsa_calc_rdm(
        Dataset(X, obs_descriptors={"cond": cond, "run": run}), method=method,
        descriptor="cond", cv_descriptor="run" if method == "crossnobis" else None, **kw,
    )
    ours = calc_rdm(X, method, conditions=cond, runs=run, **kw)
    np.testing.assert_allclose(ours.dissimilarities, ref.get_vectors(), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ours.pattern_descriptors["condition"], np.arange(7))


@pytest.mark.parametrize("method", COMPARISONS)
def test_comparison_parity_with_rsatoolbox(method):
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm.compare import compare as rsa_compare

    rng = np.random.default_rng(1)
    a, b = rng.random((3, 45)), rng.random((4, 45))
    b[0] = np.round(b[0] * 4)  # a model predicting ties
    np.testing.assert_allclose(
        compare(a, b, method), rsa_compare(a, b, RSA_NAMES[method]), rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("method", ["cosine-whitened", "corr-whitened", "spearman"])
def test_comparison_parity_with_missing_pairs_and_sigma(method):
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm.compare import compare as rsa_compare

    rng = np.random.default_rng(2)
    a, b = rng.random((2, 45)), rng.random((3, 45))
    a[:, [3, 17]] = np.nan
    b[:, [3, 17]] = np.nan
    np.testing.assert_allclose(
        compare(a, b, method), rsa_compare(a, b, RSA_NAMES[method]), rtol=0, atol=1e-10
    )
    if method != "spearman":
        sigma = rng.uniform(0.5, 2.0, 10)
        np.testing.assert_allclose(
            compare(a, b, method, sigma_k=sigma),
            rsa_compare(a, b, RSA_NAMES[method], sigma_k=sigma), rtol=0, atol=1e-10,
        )


def test_comparisons_hand_values():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0])
    # tau-a: 15 pairs, 3 discordant -> (12 - 3) / 15
    assert compare(a, b, "tau-a")[0, 0] == pytest.approx(9 / 15)
    # rho-a without ties equals Spearman: 1 - 6 * sum(d^2) / (n^3 - n), d = +-1
    assert compare(a, b, "rho-a")[0, 0] == pytest.approx(1 - 6 * 6 / (216 - 6))
    assert compare(a, b, "spearman")[0, 0] == pytest.approx(1 - 6 * 6 / (216 - 6))
    assert compare(a, 2 * a + 1, "corr")[0, 0] == pytest.approx(1.0)
    assert compare(a, -a, "cosine")[0, 0] == pytest.approx(-1.0)
    with pytest.raises(DataError, match="unknown RDM comparison"):
        compare(a, b, "kendall-z")


def test_crossnobis_pure_noise_is_unbiased_with_both_signs():
    rng = np.random.default_rng(3)
    cond = np.tile(np.arange(12), 6)
    run = np.repeat(np.arange(6), 12)
    means = []
    for _ in range(40):
        X = rng.standard_normal((len(cond), 40))
        d = calc_rdm(X, "crossnobis", conditions=cond, runs=run).dissimilarities
        assert (d > 0).any() and (d < 0).any()
        means.append(d.mean())
    means = np.array(means)
    # per-pair sd of the mean over 66 pairs ~ few 1e-3; the mean over 40 draws is ~0
    assert abs(means.mean()) < 4 * means.std() / np.sqrt(len(means))
    # the non-cross-validated distance is biased upwards by 2 sigma^2 / n_runs
    e = calc_rdm(X, "euclidean", conditions=cond).dissimilarities.mean()
    assert e == pytest.approx(2 / 6, rel=0.15)


def test_crossnobis_recovers_planted_distances_and_unbalanced_design():
    rng = np.random.default_rng(4)
    p = 50
    centres = np.arange(5)[:, None] * rng.standard_normal(p) * 0.3  # a line: d ~ (i - j)^2
    true = calc_rdm(centres, "euclidean").dissimilarities[0]
    cond = np.tile(np.arange(5), 8)
    run = np.repeat(np.arange(8), 5)
    drop = (cond == 4) & (run < 3)  # condition 4 missing from three runs
    cond, run = cond[~drop], run[~drop]
    X = centres[cond] + rng.standard_normal((len(cond), p))
    d = calc_rdm(X, "crossnobis", conditions=cond, runs=run).dissimilarities[0]
    assert np.corrcoef(d, true)[0, 1] > 0.95
    assert abs(d.mean() / true.mean() - 1) < 0.2
    assert np.all(np.isfinite(d))


@pytest.mark.parametrize("noise", ["none", "diag", "full"])
def test_crossnobis_sum_over_runs_identity_equals_the_pairwise_definition(noise):
    from neurodecode.rsa.rdm import _crossnobis_balanced, _crossnobis_unbalanced

    rng = np.random.default_rng(5)
    means = rng.standard_normal((4, 7, 9))  # runs x conditions x channels
    prec = {"none": None, "diag": rng.random(9) + 0.5,
            "full": np.cov(rng.standard_normal((9, 30)))}[noise]
    fast = _crossnobis_balanced(means.transpose(1, 0, 2), prec)  # conditions x runs x p
    general = _crossnobis_unbalanced(means, np.ones((4, 7), bool), prec)
    # hand computation of one pair straight from the definition
    P = np.eye(9) if prec is None else (np.diag(prec) if prec.ndim == 1 else prec)
    d = means[:, 0] - means[:, 1]
    by_hand = np.mean([d[k] @ P @ d[m] for k in range(4) for m in range(4) if k != m])
    np.testing.assert_allclose(fast, general, rtol=1e-10, atol=1e-12)
    assert fast[0] == pytest.approx(by_hand, rel=1e-10)


def test_trialdata_input_noise_normalisation_and_errors():
    X, cond, run, rng = _design(n_cond=6, n_runs=5, p=12)
    X[:, 0] *= 30  # one very noisy channel dominates unless noise-normalised
    meta = pd.DataFrame({"condition": cond, "run": run})
    td = TrialData(X, subject="s1", modality="features", metadata=meta)
    rdm = calc_rdm(td, "crossnobis")
    assert rdm.rdm_descriptors["subject"].tolist() == ["s1"]
    np.testing.assert_allclose(
        rdm.dissimilarities, calc_rdm(X, "crossnobis", conditions=cond, runs=run).dissimilarities
    )
    diag = noise_precision(td, method="diag")
    assert diag.shape == (12,) and diag[0] < diag[1:].min()
    full = noise_precision(td, method="shrinkage")
    assert full.shape == (12, 12) and np.allclose(full, full.T)
    with pytest.raises(DataError, match="no column 'nope'"):
        calc_rdm(td, conditions="nope")
    with pytest.raises(DataError, match="noise precision must be"):
        calc_rdm(td, "mahalanobis", noise=np.eye(3))
    with pytest.raises(DataError, match="at least 2 runs"):
        calc_rdm(X[:6], "crossnobis", conditions=cond[:6], runs=np.zeros(6))


def test_rdms_container_round_trips_and_bootstrap_subsets():
    rng = np.random.default_rng(5)
    m = rng.random((2, 5, 5))
    m = m + m.transpose(0, 2, 1)
    m[:, np.arange(5), np.arange(5)] = 0
    rdms = RDMs.from_matrices(m, pattern_descriptors={"condition": np.arange(5)},
                              rdm_descriptors={"subject": np.array(["a", "b"])})
    np.testing.assert_allclose(rdms.matrices(), m)
    assert rdms[1].rdm_descriptors["subject"].tolist() == ["b"]
    sub = rdms.subset_patterns(np.array([3, 1, 3]))
    np.testing.assert_allclose(sub.matrices()[:, 0, 1], m[:, 3, 1])
    assert np.isnan(sub.dissimilarities[:, 1]).all()  # (3, 3): a condition with its copy
    assert sub.pattern_descriptors["condition"].tolist() == [3, 1, 3]
    with pytest.raises(DataError, match="not a number of condition pairs"):
        RDMs(np.zeros(7))
