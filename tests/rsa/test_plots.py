"""Figures are written as PNG and show what they should."""

import numpy as np
from scipy.spatial.distance import pdist

from neurodecode.rsa.inference import evaluate
from neurodecode.rsa.plots import plot_mds, plot_model_comparison, plot_rdms
from neurodecode.rsa.rdm import RDMs
from neurodecode.synth.rsa_world import region_geometry

PNG = b"\x89PNG\r\n\x1a\n"


def test_rdm_heatmaps_and_mds_of_a_ring(tmp_path):
    ring = pdist(region_geometry("ring", 12))
    rdms = RDMs(np.stack([ring, pdist(region_geometry("line", 12))]),
                pattern_descriptors={"condition": np.arange(12)})
    fig = plot_rdms(rdms, titles=["ring", "line"], path=tmp_path / "rdms.png")
    assert (tmp_path / "rdms.png").read_bytes()[:8] == PNG
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), rdms.matrices()[0])
    fig = plot_mds(ring, path=tmp_path / "mds.png")
    assert (tmp_path / "mds.png").read_bytes()[:8] == PNG
    points = fig.axes[0].collections[0].get_offsets()
    radius = np.linalg.norm(points - points.mean(axis=0), axis=1)
    assert radius.std() / radius.mean() < 0.05  # MDS of a ring is a ring


def test_model_comparison_bars(tmp_path):
    rng = np.random.default_rng(0)
    truth = pdist(region_geometry("ring", 12)) ** 2
    data = RDMs(truth + 0.3 * rng.standard_normal((8, len(truth))))
    ev = evaluate(data, {"ring": truth, "random": rng.random(len(truth))}, n_bootstrap=100)
    fig = plot_model_comparison(ev, path=tmp_path / "models.png")
    assert (tmp_path / "models.png").read_bytes()[:8] == PNG
    heights = [bar.get_height() for bar in fig.axes[0].patches if bar.get_width() < 1]
    np.testing.assert_allclose(sorted(heights), sorted(ev.point))
    assert len(fig.axes[0].lines) >= 1  # the significant ring-vs-random test is drawn
    assert not list(tmp_path.glob(".*tmp*"))
