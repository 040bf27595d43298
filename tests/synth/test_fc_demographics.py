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
