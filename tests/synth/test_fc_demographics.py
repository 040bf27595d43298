import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neurodecode import synth
from neurodecode.data.errors import DataError
from neurodecode.synth import fc_demographics


def _auc(X, y, seed=0):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    proba = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
    return roc_auc_score(y, proba)


def test_deterministic_by_seed():
    a = synth.make("synthetic-fc-demographics", n_subjects=50, seed=3)
    b = synth.make("synthetic-fc-demographics", n_subjects=50, seed=3)
    c = synth.make("synthetic-fc-demographics", n_subjects=50, seed=4)
    np.testing.assert_array_equal(a.subjects["group"].X, b.subjects["group"].X)
    pd.testing.assert_frame_equal(a.subjects["group"].metadata, b.subjects["group"].metadata)
    assert not np.allclose(a.subjects["group"].X, c.subjects["group"].X)
    data = a.subjects["group"]
    assert data.modality == "fc" and data.X.shape == (50, 435)
    assert list(data.metadata.columns) == ["participant_id", "age", "sex", "site", "diagnosis"]


def test_write_read_round_trip(tmp_path):
    world = fc_demographics.make(n_subjects=40, seed=1)
    paths = fc_demographics.write(world, tmp_path)
    roi_files = sorted(tmp_path.glob("*_rois_synth.1D"))
    assert len(roi_files) == 40 and len(paths) == 42
    assert roi_files[0].read_text().startswith("#ROI001\t#ROI002")
    back = fc_demographics.read(tmp_path)
    np.testing.assert_allclose(back.subjects["group"].X, world.subjects["group"].X, atol=1e-12)
    pd.testing.assert_frame_equal(back.subjects["group"].metadata,
                                  world.subjects["group"].metadata)
    np.testing.assert_allclose(back.truth["effect_maps"]["sex"],
                               world.truth["effect_maps"]["sex"])


def test_planted_effects_recovered_and_shuffled_labels_at_chance():
    world = fc_demographics.make(n_subjects=300, seed=0)
    data = world.subjects["group"]
    meta = data.metadata
    assert _auc(data.X, meta.sex == "F") > 0.75
    assert _auc(data.X, meta.diagnosis) > 0.75
    shuffled = np.random.default_rng(0).permutation(meta.diagnosis.to_numpy())
    assert abs(_auc(data.X, shuffled) - 0.5) < 0.1
    # the sex group difference follows the planted map
    diff = data.X[meta.sex == "F"].mean(0) - data.X[meta.sex == "M"].mean(0)
    assert np.corrcoef(diff, world.truth["effect_maps"]["sex"])[0, 1] > 0.8
    # the clinical signal is independent of demographics by construction
    assert abs(np.corrcoef(meta.diagnosis, meta.age)[0, 1]) < 0.15


def test_bad_parameters_are_explained():
    with pytest.raises(DataError, match="n_timepoints"):
        fc_demographics.make(n_subjects=10, n_rois=30, n_timepoints=20)


def test_zero_variance_rois_are_planted_and_read_back(tmp_path):
    plain = fc_demographics.make(n_subjects=20, seed=5, n_rois=14)
    world = fc_demographics.make(n_subjects=20, seed=5, n_rois=14,
                                 zero_variance_participants=4, zero_variance_rois=3)
    zeroed = world.truth["zero_variance_rois"]
    assert len(zeroed) == 4 and all(set(r) <= {11, 12, 13} and r for r in zeroed.values())
    data = world.subjects["group"]
    ids = list(data.metadata.participant_id)
    rows, cols = np.triu_indices(14, k=1)
    for pid, rois in zeroed.items():
        touching = np.isin(rows, rois) | np.isin(cols, rois)
        assert np.all(data.X[ids.index(pid), touching] == 0)
        assert np.all(data.X[ids.index(pid), ~touching] != 0)
    others = [i for i, pid in enumerate(ids) if pid not in zeroed]
    # the other participants are those of the world without zeroed ROIs
    np.testing.assert_array_equal(data.X[others], plain.subjects["group"].X[others])
    fc_demographics.write(world, tmp_path)
    back = fc_demographics.read(tmp_path)
    np.testing.assert_allclose(back.subjects["group"].X, data.X, atol=1e-12)
