"""DemoVAE on synthetic-fc-demographics: held-out behaviour against the planted truth."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline

from neurodecode.confounds.demovae import DemoVAE
from neurodecode.confounds.reports import fidelity_report, leakage_report
from neurodecode.data.errors import DataError
from neurodecode.synth import fc_demographics

DEMOGRAPHICS = ["age", "sex", "site"]
TARGETS = ["age", "sex", "site", "diagnosis"]
SETTINGS = dict(continuous=["age"], categorical=["sex", "site"], hidden_dim=128, n_epochs=80,
                batch_size=128, random_state=0)
N_TRAIN, N_TEST = 1600, 400


def _split(seed):
    data = fc_demographics.make(n_subjects=N_TRAIN + N_TEST, seed=seed).subjects["group"]
    return data, data.select(np.arange(N_TRAIN)), data.select(np.arange(N_TRAIN, len(data)))


@pytest.fixture(scope="module")
def replicates():
    """Three independent worlds: the default model fitted on 1,600 participants, and held-out
    reports (raw edges and latents) on 400 others. Three, because a 95% band flags a perfect
    method in ~5% of runs per demographic: one run cannot tell leakage from bad luck."""
    out = []
    for seed in range(3):
        _, train, test = _split(seed)
        model = DemoVAE(**SETTINGS).fit(train.X, demographics=train.metadata)
        raw = leakage_report(test.X, test.metadata[TARGETS], n_permutations=300)
        latent = leakage_report(model.transform(test.X, test.metadata), test.metadata[TARGETS],
                                n_permutations=300)
        out.append(dict(model=model, test=test, raw=raw.set_index("target"),
                        latent=latent.set_index("target")))
    return out


def _excess(report):
    """Score minus the chance median, in units of the band's half-width on that side."""
    above = report["score"] >= report["chance_median"]
    half = np.where(above, report["chance_high"] - report["chance_median"],
                    report["chance_median"] - report["chance_low"])
    return (report["score"] - report["chance_median"]) / half


def _small(n=120, seed=1):
    data = fc_demographics.make(n_subjects=n, seed=seed, n_rois=14, n_networks=7)
    return data.subjects["group"]


# small and fast; the decorrelation term on so that its invariances are tested
FAST = dict(SETTINGS, n_epochs=3, hidden_dim=32, latent_dim=4, batch_size=32,
            lambda_decor=1000.0)


@pytest.mark.slow
def test_demographics_predictable_from_raw_and_at_chance_from_latents(replicates):
    for rep in replicates:
        raw = rep["raw"]
        assert (raw["status"] == "above chance").all(), raw
        assert raw.loc["age", "score"] > 0.5 and raw.loc["sex", "score"] > 0.75
    for col in DEMOGRAPHICS:
        statuses = [rep["latent"].loc[col, "status"] for rep in replicates]
        # inside the two-sided band (neither leakage nor over-correction) in most runs...
        assert statuses.count("at chance") >= 2, (col, statuses)
        # ...and on average well inside it
        mean_excess = np.mean([_excess(rep["latent"]).loc[col] for rep in replicates])
        assert abs(mean_excess) < 0.75, (col, mean_excess)


@pytest.mark.slow
def test_planted_signal_survives(replicates):
    """The issue's 80%, for the typical world: retention varies between worlds and model
    seeds (bench/demovae_leakage.py: per-world medians .81-1.04, single runs down to .64)."""
    kept = []
    for rep in replicates:
        raw, latent = rep["raw"], rep["latent"]
        assert latent.loc["diagnosis", "status"] == "above chance", latent
        kept.append((latent.loc["diagnosis", "score"] - latent.loc["diagnosis", "chance_median"])
                    / (raw.loc["diagnosis", "score"] - raw.loc["diagnosis", "chance_median"]))
    assert np.median(kept) >= 0.8, kept
    assert min(kept) >= 0.6, kept


@pytest.mark.slow
def test_samples_reproduce_planted_group_differences(replicates):
    """Group-difference maps of samples against the population's: 10,000 participants of the
    same world (same seed, so the same loadings and effects). A 400-participant real sample is
    itself .31-.53 away from that reference, so it would measure its own noise."""
    fitted = replicates[0]["model"]
    train = _split(0)[1]
    population = fc_demographics.make(n_subjects=10_000, seed=0).subjects["group"]
    synthetic, used = fitted.sample(population.metadata, random_state=1)

    def ratios(X, demographics):
        report = fidelity_report(population.X, population.metadata, X, demographics,
                                 groups=["sex", "site"], n_permutations=10)
        return {k: v["error_ratio"] for k, v in report["group_differences"].items()}

    ours, training_data = ratios(synthetic, used), ratios(train.X, train.metadata)
    assert np.median(list(ours.values())) <= 0.5, ours  # paper: .20-.54; measured ~.19
    assert max(ours.values()) <= 0.35, ours
    # as close to the population as the 1,600 real participants the model learnt from
    assert all(ours[k] <= 1.5 * training_data[k] for k in ours), (ours, training_data)
    # a sampler that ignores the requested demographics fails the same check
    shuffled = used.assign(site=used.site.sample(frac=1, random_state=0).to_numpy(),
                           sex=used.sex.sample(frac=1, random_state=1).to_numpy())
    assert min(ratios(synthetic, shuffled).values()) > 0.8


@pytest.mark.slow
def test_two_sample_classifier_near_chance(replicates):
    fitted, test = replicates[0]["model"], replicates[0]["test"]
    synthetic, used = fitted.sample(test.metadata, random_state=1)
    two_sample = fidelity_report(test.X, test.metadata, synthetic, used, groups=["sex"],
                                 n_permutations=200)["two_sample"]
    assert two_sample["chance_low"] <= two_sample["auc"] <= two_sample["chance_high"]
    # without the residual noise the samples are over-smooth and easy to tell apart
    smooth, _ = fitted.sample(test.metadata, random_state=1, noise=False)
    smooth_test = fidelity_report(test.X, test.metadata, smooth, used, groups=["sex"],
                                  n_permutations=200)["two_sample"]
    assert smooth_test["auc"] > smooth_test["chance_high"], smooth_test


@pytest.mark.slow
def test_fitting_on_all_subjects_before_cv_leaks():
    """A model fitted on every participant (evaluation participants included) removed the
    evaluation participants' own demographics: their latents look cleaner than truly held-out
    ones (the optimistic, even below-chance, scores of Snoek et al. 2019). Fitted on training
    participants only, the same evaluation gives the honest answer. Shown with the published
    recipe (decorrelation loss, no residualization), whose loss fits each sample's noise."""
    data = fc_demographics.make(n_subjects=1000, seed=0).subjects["group"]
    train, test = data.select(np.arange(600)), data.select(np.arange(600, 1000))
    paper = dict(SETTINGS, latent_dim=16, lambda_decor=1000.0, conditional_encoder=True,
                 residualize=False)
    wrong = DemoVAE(**paper).fit(data.X, demographics=data.metadata)
    leaked = leakage_report(wrong.transform(test.X, test.metadata), test.metadata[DEMOGRAPHICS],
                            n_permutations=300).set_index("target")
    right = DemoVAE(**paper).fit(train.X, demographics=train.metadata)
    honest = leakage_report(right.transform(test.X, test.metadata),
                            test.metadata[DEMOGRAPHICS], n_permutations=300).set_index("target")
    # held out, the recipe leaks; fitted on everyone, the same latents look clean
    assert (honest["status"] == "above chance").any(), honest
    assert not (leaked["status"] == "above chance").any(), leaked
    assert _excess(leaked).mean() < _excess(honest).mean() - 0.5, (leaked, honest)


def test_age_in_months_changes_nothing():
    data = _small()
    years = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    months_meta = data.metadata.assign(age=data.metadata.age * 12)
    months = DemoVAE(**FAST).fit(data.X, demographics=months_meta)
    np.testing.assert_allclose(years.transform(data.X, data.metadata),
                               months.transform(data.X, months_meta), atol=1e-5)
    for a, b in zip(years.history_, months.history_, strict=True):
        assert a == pytest.approx(b, rel=1e-5)


def test_same_seed_same_model_and_other_seed_differs():
    data = _small()
    a = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    b = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    c = DemoVAE(**dict(FAST, random_state=1)).fit(data.X, demographics=data.metadata)
    za = a.transform(data.X, data.metadata)
    np.testing.assert_array_equal(za, b.transform(data.X, data.metadata))
    assert not np.allclose(za, c.transform(data.X, data.metadata))


def test_save_load_round_trip(tmp_path):
    data = _small()
    model = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    paths = model.save(tmp_path / "vae")
    assert sorted(p.name for p in paths) == ["config.json", "model.safetensors"]
    back = DemoVAE.load(tmp_path / "vae")
    assert back.get_params() == {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in model.get_params().items()}
    np.testing.assert_array_equal(back.transform(data.X, data.metadata),
                                  model.transform(data.X, data.metadata))
    np.testing.assert_array_equal(back.sample(data.metadata, random_state=3)[0],
                                  model.sample(data.metadata, random_state=3)[0])
    (tmp_path / "vae" / "model.safetensors").unlink()
    with pytest.raises(DataError, match="model.safetensors: not found"):
        DemoVAE.load(tmp_path / "vae")


def test_pipeline_fits_on_training_folds_only():
    data = _small()
    frame = pd.concat([pd.DataFrame(data.X).add_prefix("edge"),
                       data.metadata[DEMOGRAPHICS]], axis=1)
    pipe = Pipeline([("vae", DemoVAE(**FAST)), ("clf", RidgeClassifier())])
    folds = KFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, frame, data.metadata.diagnosis, cv=folds,
                            return_estimator=True, return_indices=True)
    for est, train_idx in zip(result["estimator"], result["indices"]["train"], strict=True):
        seen = est.named_steps["vae"].train_demographics_
        pd.testing.assert_frame_equal(
            seen, data.metadata[DEMOGRAPHICS].iloc[train_idx].reset_index(drop=True))
    assert clone(pipe).get_params()["vae__latent_dim"] == 4


def test_bad_demographics_are_explained():
    data = _small()
    model = DemoVAE(**FAST)
    with pytest.raises(DataError, match="needs demographics"):
        model.fit(data.X)
    with pytest.raises(DataError, match=r"lack declared columns \['site'\]"):
        model.fit(data.X, demographics=data.metadata.drop(columns="site"))
    model.fit(data.X, demographics=data.metadata)
    with pytest.raises(DataError, match="not seen in training"):
        model.transform(data.X, data.metadata.assign(site="elsewhere"))


def test_harmonize_moves_connectivity_along_the_planted_site_map():
    world = fc_demographics.make(n_subjects=300, seed=2)
    data = world.subjects["group"]
    model = DemoVAE(**dict(SETTINGS, n_epochs=30)).fit(data.X, demographics=data.metadata)
    to0 = model.harmonize(data.X, to={"site": "site0"}, demographics=data.metadata)
    to1 = model.harmonize(data.X, to={"site": "site1"}, demographics=data.metadata)
    truth = np.subtract(world.truth["effect_maps"]["site0"], world.truth["effect_maps"]["site1"])
    assert np.corrcoef((to0 - to1).mean(0), truth)[0, 1] > 0.7  # measured 0.78


def test_guidance_is_optimised():
    data = _small()
    model = DemoVAE(**dict(FAST, n_epochs=40, lambda_guidance=1.0))
    model.fit(data.X, demographics=data.metadata)
    first, last = model.history_[0]["guidance"], model.history_[-1]["guidance"]
    assert last < 0.8 * first
    assert "guidance" not in DemoVAE(**FAST).fit(data.X, demographics=data.metadata).history_[0]


def test_residualized_latents_carry_no_linear_demographics_and_decode_consistently():
    data = _small()
    model = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    z = model.transform(data.X, data.metadata)
    D = model.encoder_.transform(data.metadata)
    design = np.c_[np.ones(len(D)), D]
    centred = z - z.mean(0)
    fitted = design @ np.linalg.lstsq(design, centred, rcond=None)[0]
    assert np.abs(fitted).max() < 1e-6  # on training data the linear part is removed exactly
    raw = DemoVAE(**dict(FAST, residualize=False)).fit(data.X, demographics=data.metadata)
    # Same seed, same training: decode(transform(X)) is unchanged by residualizing.
    assert np.allclose(model.decode(z, data.metadata),
                       raw.decode(raw.transform(data.X, data.metadata), data.metadata),
                       atol=1e-5)
