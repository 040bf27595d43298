"""tRSA transforms: worked example, invariances, rsatoolbox differences, geodesic truth."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import rankdata, spearmanr

from neurodecode.data.errors import DataError
from neurodecode.rsa.rdm import RDMs
from neurodecode.rsa.topology import PRESETS, geodesic_transform, gt_transform

WORKED_D = np.array([0.1, 0.3, 0.45, 0.9, 0.5, 0.2])


def test_worked_example_raw_thresholds():
    # ANCHORS.md section 5: lower quantile 0, upper .75, no rank step
    out = gt_transform(WORKED_D, 0.0, 0.75, rank=False)
    np.testing.assert_allclose(out, [0, 0.516, 0.903, 1, 1, 0.258], atol=5e-4)
    # by hand: a = .1, b = q(.75) = .45 + .75 * .05 = .4875
    np.testing.assert_allclose(out[1], 0.2 / 0.3875)


def test_worked_example_rank_pipeline():
    # ranks [1, 4, 5, 6, ...] of d -> min-max over 1..6 -> thresholds on that scale
    out = gt_transform(WORKED_D, 0.0, 0.75)
    scaled = (rankdata(WORKED_D) - 1) / 5  # [0, .4, .6, 1, .8, .2]
    b = np.quantile(scaled, 0.75)  # .75
    np.testing.assert_allclose(out, np.clip(scaled / b, 0, 1))
    np.testing.assert_allclose(out, [0, 0.4 / 0.75, 0.6 / 0.75, 1, 1, 0.2 / 0.75])


def test_differs_from_rsatoolbox_on_saturation_pooling_and_ranks():
    pytest.importorskip("rsatoolbox")
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm.transform import geotopological_transform

    # 1. in-place saturation: rescaled middle values above the upper threshold become 1
    theirs = geotopological_transform(RsaRDMs(WORKED_D[None].copy()), 0, 0.75).get_vectors()[0]
    np.testing.assert_allclose(theirs, [0, 1, 1, 1, 1, 0.258], atol=5e-4)
    ours = gt_transform(WORKED_D, 0, 0.75, rank=False)
    assert ours[1] == pytest.approx(0.516, abs=5e-4) and ours[2] == pytest.approx(0.903, abs=5e-4)
    # 2. thresholds pooled over RDMs: a scaled copy changes the first RDM's transform there
    pair = np.stack([WORKED_D, 10 * WORKED_D])
    pooled = geotopological_transform(RsaRDMs(pair.copy()), 0.2, 0.8).get_vectors()
    alone = geotopological_transform(RsaRDMs(pair[:1].copy()), 0.2, 0.8).get_vectors()
    assert not np.allclose(pooled[0], alone[0])
    ours_pair = gt_transform(pair, 0.2, 0.8)
    np.testing.assert_allclose(ours_pair[0], ours_pair[1])  # per-RDM and rank-based
    # 3. no rank step: a monotone warp changes their transform, not ours
    warped = np.exp(5 * WORKED_D)
    t1 = geotopological_transform(RsaRDMs(WORKED_D[None].copy()), 0.2, 0.8).get_vectors()
    t2 = geotopological_transform(RsaRDMs(warped[None].copy()), 0.2, 0.8).get_vectors()
    assert not np.allclose(t1, t2)
    np.testing.assert_allclose(gt_transform(WORKED_D), gt_transform(warped))


@pytest.mark.parametrize("seed", range(5))
def test_gt_invariant_to_strictly_monotone_transforms(seed):
    rng = np.random.default_rng(seed)
    d = rng.random((3, 66))
    d[0, :5] = d[0, 5]  # ties survive a strictly monotone map
    warps = [lambda x: np.exp(7 * x), lambda x: x**0.2, lambda x: np.log(x + 1e-3) * 3 - 2,
             lambda x: np.arctan(20 * (x - 0.5))]
    lo, up = np.sort(rng.random(2))
    for kind in ("linear", "sigmoid"):
        base = gt_transform(d, lo, up, kind=kind)
        for warp in warps:
            np.testing.assert_allclose(gt_transform(warp(d), lo, up, kind=kind), base, atol=1e-12)
    # and raw thresholds are not invariant (the rank step matters)
    assert not np.allclose(gt_transform(d, lo, up, rank=False),
                           gt_transform(np.exp(7 * d), lo, up, rank=False))


@pytest.mark.parametrize("seed", range(5))
def test_l0_u1_is_the_rank_rdm(seed):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((2, 45)) ** 3
    d[1, 10:14] = d[1, 0]
    expected = np.stack([(rankdata(r) - rankdata(r).min()) / np.ptp(rankdata(r)) for r in d])
    np.testing.assert_allclose(gt_transform(d, 0.0, 1.0), expected)
    np.testing.assert_allclose(gt_transform(d, "rank"), expected)


def test_gt_shapes_regimes_and_rdms_objects():
    rng = np.random.default_rng(7)
    rdms = RDMs(rng.random((2, 28)), measure="crossnobis",
                rdm_descriptors={"subject": np.array(["a", "b"])})
    topo = gt_transform(rdms, "topology-sensitive")
    assert isinstance(topo, RDMs) and topo.rdm_descriptors["subject"].tolist() == ["a", "b"]
    assert "crossnobis" in topo.measure
    v = topo.dissimilarities
    assert v.min() == 0 and v.max() == 1
    # topology-sensitive: the lowest 40% map to 0 and the highest 40% to 1
    assert (v == 0).mean() >= 0.35 and (v == 1).mean() >= 0.35
    adj = gt_transform(rdms.dissimilarities, "adjacency")
    assert set(np.unique(adj)) <= {0.0, 1.0}
    assert PRESETS["geometry-sensitive"][1] - PRESETS["geometry-sensitive"][0] >= 0.8
    with pytest.raises(DataError, match="quantiles"):
        gt_transform(rdms, 0.7, 0.3)
    with pytest.raises(DataError, match="preset"):
        gt_transform(rdms, "topological")


def _circle(n=40):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ang = np.abs(t[:, None] - t[None])
    arc = np.minimum(ang, 2 * np.pi - ang)[np.triu_indices(n, 1)]
    return np.c_[np.cos(t), np.sin(t)], arc


def _swiss_roll(n=200, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(1.5 * np.pi, 4.5 * np.pi, n))
    h = rng.uniform(0, 8, n)
    arclen = 0.5 * (t * np.sqrt(1 + t**2) + np.arcsinh(t))  # length along the spiral r = t
    return np.c_[t * np.cos(t), h, t * np.sin(t)], pdist(np.c_[arclen, h])


@pytest.mark.parametrize("method", ["p-shortest", "p-nearest", "k-nearest"])
def test_geodesic_matches_arc_length_on_a_circle(method):
    points, arc = _circle()
    g = geodesic_transform(pdist(points), method, p=0.05, k=2)
    assert spearmanr(g, arc).statistic > 0.99


def test_geodesic_unrolls_a_swiss_roll_where_euclidean_fails():
    points, truth = _swiss_roll()
    d = pdist(points)
    g = geodesic_transform(d, "k-nearest", k=6)
    assert spearmanr(g, truth).statistic > 0.99
    assert spearmanr(d, truth).statistic < 0.6
    # two-step = geodesic then GT: still ordered like the truth on the unsaturated band
    two = geodesic_transform(d, "two-step", p=0.05, lower=0.0, upper=1.0)
    assert np.all(np.isfinite(two))


def test_zero_distance_pairs_stay_connected():
    points, _ = _circle(20)
    points = np.vstack([points, points[:1]])  # condition 20 duplicates condition 0
    d = pdist(points)
    for method in ("p-shortest", "k-nearest", "p-nearest"):
        paths = geodesic_transform(d, method, p=0.1, k=2, rank=False)
        D = np.zeros((21, 21))
        D[np.triu_indices(21, 1)] = paths
        D = D + D.T
        assert D[0, 20] == 0  # connected through the zero-weight edge
        np.testing.assert_allclose(D[20, :20], D[0, :20])  # same distances as its twin
        assert np.all(np.isfinite(D))
    # a negative crossnobis estimate is shifted to weight 0 and must remain an edge too
    chain = pdist(np.arange(6.0)[:, None] ** 1.5)
    chain[0] = -0.2  # conditions 0 and 1
    paths = geodesic_transform(chain, "k-nearest", k=1, rank=False)
    assert paths[0] == 0 and np.all(np.isfinite(paths))
    with pytest.raises(DataError, match="complete RDMs"):
        geodesic_transform(np.array([np.nan, 1, 2]))
