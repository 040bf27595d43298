"""Inference: bootstrap with shared resamples, noise ceilings, corrected model tests, CV."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from neurodecode.data.errors import DataError
from neurodecode.rsa.inference import correct, crossvalidate, evaluate, noise_ceiling
from neurodecode.rsa.rdm import RDMs
from neurodecode.synth.rsa_world import region_geometry


def _subjects(n_subjects=10, noise=0.3, seed=0, signal=1.0):
    rng = np.random.default_rng(seed)
    truth = pdist(region_geometry("ring", 16)) ** 2
    data = signal * truth + noise * rng.standard_normal((n_subjects, len(truth)))
    models = {
        "ring": truth,
        "line": pdist(region_geometry("line", 16)) ** 2,
        "random": rng.random(len(truth)),
    }
    subjects = np.array([f"s{i}" for i in range(n_subjects)])
    return RDMs(data, rdm_descriptors={"subject": subjects}), models


@pytest.mark.parametrize("over", ["subjects", "stimuli", "both"])
def test_true_model_wins_and_random_model_is_at_zero(over):
    data, models = _subjects()
    ev = evaluate(data, models, "corr", over=over, n_bootstrap=200, seed=1)
    assert ev.point.argmax() == 0
    lo, up = ev.noise_ceiling
    assert lo <= up and lo < ev.point[0] + 0.05  # the true model reaches the ceiling
    low, high = ev.ci()
    if over != "subjects":  # a fixed random RDM is by chance correlated with this stimulus set
        assert low[2] < 0 < high[2] and ev.test_zero()[2] > 0.05
    assert ev.test_zero()[0] < 0.01
    tests = ev.pairwise_tests("bonferroni").set_index(["model_a", "model_b"])
    assert tests.loc[("ring", "random"), "significant"]
    assert tests.loc[("ring", "line"), "difference"] > 0
    frame = ev.to_frame()
    assert list(frame["model"]) == ["ring", "line", "random"] and (frame["std_err"] > 0).all()


def test_all_models_see_the_same_resamples():
    data, models = _subjects()
    both = evaluate(data, models, "spearman", n_bootstrap=50, seed=3)
    alone = evaluate(data, {"ring": models["ring"]}, "spearman", n_bootstrap=50, seed=3)
    np.testing.assert_array_equal(both.bootstrap[:, 0], alone.bootstrap[:, 0])
    # paired resamples: differences vary less than the scores themselves
    diff = both.bootstrap[:, 0] - both.bootstrap[:, 1]
    assert diff.std() < both.bootstrap[:, 0].std() + both.bootstrap[:, 1].std()


def test_pure_noise_data_gives_no_significant_model():
    data, models = _subjects(signal=0.0, noise=1.0, seed=4)
    ev = evaluate(data, models, "corr", over="both", n_bootstrap=200, seed=0)
    assert (ev.test_zero() > 0.05).all()
    assert not ev.pairwise_tests("fdr")["significant"].any()
    assert abs(ev.noise_ceiling[0]) < 0.1  # subjects share nothing


def test_noise_ceiling_by_hand():
    d = np.array([[1.0, 2, 3], [1, 3, 2], [3, 2, 1], [2, 1, 3.5]])
    mean = d.mean(axis=0)
    upper = np.mean([np.corrcoef(r, mean)[0, 1] for r in d])
    lower = np.mean([np.corrcoef(d[i], np.delete(d, i, 0).mean(0))[0, 1] for i in range(4)])
    np.testing.assert_allclose(noise_ceiling(d, "corr"), [lower, upper])
    with pytest.raises(DataError, match="at least 2 subjects"):
        noise_ceiling(d[:1])


def test_corrections_by_hand():
    p = np.array([0.01, 0.04, 0.03])
    np.testing.assert_allclose(correct(p, "bonferroni"), [0.03, 0.12, 0.09])
    np.testing.assert_allclose(correct(p, "fdr"), [0.03, 0.04, 0.04])
    np.testing.assert_allclose(correct(p, "none"), p)
    with pytest.raises(DataError, match="unknown correction"):
        correct(p, "holm-ish")


def test_crossvalidated_weighted_model_recovers_the_mixture():
    rng = np.random.default_rng(5)
    ring = pdist(region_geometry("ring", 18)) ** 2
    grid = pdist(region_geometry("grid", 18)) ** 2
    data = RDMs(0.7 * ring + 0.3 * grid + 0.05 * rng.standard_normal((6, len(ring))),
                rdm_descriptors={"subject": np.arange(6)})
    shuffled = rng.permutation(ring)
    scores = crossvalidate(data, {"mixture": np.stack([ring, grid]), "ring": ring,
                                  "shuffled": shuffled}, "corr", k_stimuli=2)
    mean = scores.groupby("model")["score"].mean()
    assert mean["mixture"] > mean["ring"] > mean["shuffled"]
    assert mean["mixture"] > 0.9 and abs(mean["shuffled"]) < 0.3
    assert len(scores) == 6 * 2 * 3
    with pytest.raises(DataError, match="k_stimuli"):
        crossvalidate(data, {"ring": ring}, k_stimuli=10)
