"""DemoVAE on synthetic-fc-demographics: held-out behaviour against the planted truth.

Replicate studies (several worlds and model seeds, 1,600-participant fits, a 10,000-participant
population) are benchmarks, not tests: bench/demovae_leakage.py (held-out leakage and signal
retention), bench/demovae_replicates.py (sampling fidelity, fitting on everyone before
cross-validation), bench/demovae_small_sample.py (~100 participants, DemoVAE vs ComBat).
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import Pipeline

from neurodecode.confounds.demovae import DemoVAE, auto_latent_dims
from neurodecode.confounds.reports import fidelity_report, leakage_report
from neurodecode.data.errors import DataError
from neurodecode.synth import fc_demographics

DEMOGRAPHICS = ["age", "sex", "site"]
TARGETS = ["age", "sex", "site", "diagnosis"]


def _small(n=120, seed=1):
    data = fc_demographics.make(n_subjects=n, seed=seed, n_rois=14, n_networks=7)
    return data.subjects["group"]


# small and fast; the decorrelation term on so that its invariances are tested
FAST = dict(continuous=["age"], categorical=["sex", "site"], n_epochs=3, hidden_dim=32,
            latent_dim=4, batch_size=32, lambda_decor=1000.0, random_state=0)
# enough training for held-out behaviour on a 30-ROI world (435 edges)
HELD_OUT = dict(continuous=["age"], categorical=["sex", "site"], hidden_dim=64, latent_dim=8,
                n_epochs=40, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def held_out():
    """One world: the model fitted on 500 participants, reports on 300 others."""
    world = fc_demographics.make(n_subjects=800, seed=0)
    data = world.subjects["group"]
    train, test = data.select(np.arange(500)), data.select(np.arange(500, 800))
    model = DemoVAE(**HELD_OUT).fit(train.X, demographics=train.metadata)
    raw = leakage_report(test.X, test.metadata[TARGETS], n_permutations=100).set_index("target")
    latent = leakage_report(model.transform(test.X), test.metadata[TARGETS],
                            n_permutations=100).set_index("target")
    return dict(model=model, train=train, test=test, raw=raw, latent=latent, world=world)


def test_transform_reads_no_demographics_of_the_transformed(held_out):
    model, test = held_out["model"], held_out["test"]
    z = model.transform(test.X)
    rng = np.random.default_rng(0)
    other = test.metadata.assign(
        age=rng.uniform(7, 60, len(test.X)),
        sex=rng.permutation(test.metadata.sex.to_numpy()),
        site=rng.permutation(test.metadata.site.to_numpy()))
    np.testing.assert_array_equal(z, model.transform(test.X, test.metadata))
    np.testing.assert_array_equal(z, model.transform(test.X, other))
    frame = pd.concat([pd.DataFrame(test.X), other[DEMOGRAPHICS]], axis=1)
    np.testing.assert_array_equal(z, model.transform(frame))
    np.testing.assert_array_equal(model.clean_edges(test.X), model.clean_edges(frame))
    # unseen levels no longer matter to transform; decoding at them is refused
    model.transform(test.X, test.metadata.assign(site="elsewhere"))
    with pytest.raises(DataError, match="not seen in training"):
        model.counterfactual(test.X, test.metadata.assign(site="elsewhere"))


def test_demographics_predictable_from_raw_and_at_chance_from_held_out_latents(held_out):
    """Was a three-world replicate fixture (1,600 training participants each); the replicate
    counts now live in bench/demovae_leakage.py."""
    raw, latent = held_out["raw"], held_out["latent"]
    assert (raw["status"] == "above chance").all(), raw
    assert raw.loc["age", "score"] > 0.5 and raw.loc["sex", "score"] > 0.75
    for col in DEMOGRAPHICS:
        assert latent.loc[col, "status"] == "at chance", latent
    # the planted diagnosis survives (retention: bench/demovae_leakage.py)
    assert latent.loc["diagnosis", "status"] == "above chance", latent
    kept = ((latent.loc["diagnosis", "score"] - latent.loc["diagnosis", "chance_median"])
            / (raw.loc["diagnosis", "score"] - raw.loc["diagnosis", "chance_median"]))
    assert kept >= 0.6, kept


def test_planted_unreadable_demographic_stays_unreadable():
    """A demographic the edges do not carry (a coin flip) cannot be read from raw held-out
    edges, nor from the cleaned latents. The previous transform, which subtracted the
    training coefficients times the held-out participants' own labels, made it readable: the
    same check catches it."""
    data = _small(n=400, seed=3)
    coin = pd.Series(np.random.default_rng(7).choice(["heads", "tails"], len(data.X)),
                     name="coin")
    meta = data.metadata.assign(coin=coin)
    train, test = np.arange(100), np.arange(100, 400)
    settings = dict(FAST, categorical=["sex", "site", "coin"], lambda_decor=0.0, n_epochs=20,
                    latent_dim=16)
    model = DemoVAE(**settings).fit(data.X[train], demographics=meta.iloc[train])
    targets = meta.iloc[test][["coin"]]
    raw = leakage_report(data.X[test], targets, n_permutations=100)
    assert raw.status[0] == "at chance", raw
    clean = leakage_report(model.transform(data.X[test]), targets, n_permutations=100)
    assert clean.status[0] == "at chance", clean
    # the previous transform, reproduced: raw latents minus the training regression
    # coefficients times the held-out participants' own encoded demographics
    unprojected = DemoVAE(**dict(settings, residualize=False))
    unprojected.fit(data.X[train], demographics=meta.iloc[train])
    D = unprojected.encoder_.transform(meta.iloc[train])
    design = np.c_[np.ones(len(D)), D - D.mean(0)]
    coef = np.linalg.lstsq(design, unprojected.transform(data.X[train]), rcond=None)[0][1:]
    leaky = (unprojected.transform(data.X[test])
             - (unprojected.encoder_.transform(meta.iloc[test]) - D.mean(0)) @ coef)
    caught = leakage_report(leaky, targets, n_permutations=100)
    assert caught.status[0] == "above chance", caught


def test_age_in_months_changes_nothing():
    data = _small()
    years = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    months_meta = data.metadata.assign(age=data.metadata.age * 12)
    months = DemoVAE(**FAST).fit(data.X, demographics=months_meta)
    np.testing.assert_allclose(years.transform(data.X), months.transform(data.X), atol=1e-5)
    for a, b in zip(years.history_, months.history_, strict=True):
        assert a == pytest.approx(b, rel=1e-5)


def test_same_seed_same_model_and_other_seed_differs():
    data = _small()
    a = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    b = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    c = DemoVAE(**dict(FAST, random_state=1)).fit(data.X, demographics=data.metadata)
    za = a.transform(data.X)
    np.testing.assert_array_equal(za, b.transform(data.X))
    assert not np.allclose(za, c.transform(data.X))


def test_save_load_round_trip(tmp_path):
    data = _small()
    model = DemoVAE(**FAST).fit(data.X, demographics=data.metadata)
    paths = model.save(tmp_path / "vae")
    assert sorted(p.name for p in paths) == ["config.json", "model.safetensors"]
    back = DemoVAE.load(tmp_path / "vae")
    assert back.get_params() == {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in model.get_params().items()}
    np.testing.assert_array_equal(back.transform(data.X), model.transform(data.X))
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
    conditional = DemoVAE(**dict(FAST, conditional_encoder=True))
    conditional.fit(data.X, demographics=data.metadata)
    with pytest.raises(DataError, match="needs demographics"):
        conditional.transform(data.X)  # that encoder reads them (not leakage-free)


def test_counterfactual_site_moves_connectivity_along_the_planted_site_map(held_out):
    model, test, world = held_out["model"], held_out["test"], held_out["world"]
    to0 = model.harmonize(test.X, to={"site": "site0"}, demographics=test.metadata)
    to1 = model.harmonize(test.X, to={"site": "site1"}, demographics=test.metadata)
    truth = np.subtract(world.truth["effect_maps"]["site0"], world.truth["effect_maps"]["site1"])
    assert np.corrcoef((to0 - to1).mean(0), truth)[0, 1] > 0.7
    # counterfactual needs only the requested demographics, not the participants' own
    target = test.metadata.assign(site="site0")
    np.testing.assert_allclose(model.counterfactual(test.X, target), to0, atol=1e-6)
    with pytest.raises(DataError, match="give the participants' demographics"):
        model.harmonize(test.X, to={"site": "site0"})


def test_guidance_is_optimised():
    data = _small()
    model = DemoVAE(**dict(FAST, n_epochs=20, lambda_guidance=1.0))
    model.fit(data.X, demographics=data.metadata)
    first, last = model.history_[0]["guidance"], model.history_[-1]["guidance"]
    assert last < 0.8 * first
    assert "guidance" not in DemoVAE(**FAST).fit(data.X, demographics=data.metadata).history_[0]


def test_training_latents_carry_no_linear_demographics_and_decode_back():
    data = _small()
    model = DemoVAE(**dict(FAST, n_epochs=15, latent_dim=8)).fit(
        data.X, demographics=data.metadata)
    z = model.transform(data.X)
    D = model.encoder_.transform(data.metadata)
    design = np.c_[np.ones(len(D)), D]
    centred = z - z.mean(0)
    fitted = design @ np.linalg.lstsq(design, centred, rcond=None)[0]
    assert np.abs(fitted).max() < 1e-6  # on training data the linear part is removed exactly
    assert model.demo_basis_.shape == (8, 4)  # age, sex, two site contrasts
    # decoding at the participants' own demographics puts the removed part back
    raw = DemoVAE(**dict(FAST, n_epochs=15, latent_dim=8, residualize=False))
    raw.fit(data.X, demographics=data.metadata)
    err = np.mean((model.decode(z, data.metadata) - data.X) ** 2)
    err_raw = np.mean((raw.decode(raw.transform(data.X), data.metadata) - data.X) ** 2)
    # (what the projection costs: the individual variation inside the demographic subspace;
    # measured 1.27x)
    assert err <= 1.5 * err_raw, (err, err_raw)
    # decoding at the wrong demographics is worse
    wrong = data.metadata.assign(sex=data.metadata.sex.map({"F": "M", "M": "F"}))
    assert np.mean((model.decode(z, wrong) - data.X) ** 2) > err


def test_samples_follow_the_requested_demographics(held_out):
    """Small version of the fidelity study (bench/demovae_replicates.py): group-difference
    maps of samples follow the planted maps, and samples with noise pass a two-sample test."""
    model, test = held_out["model"], held_out["test"]
    synthetic, used = model.sample(test.metadata, random_state=1)
    report = fidelity_report(test.X, test.metadata, synthetic, used, groups=["sex"],
                             n_permutations=40)
    assert report["group_differences"]["sex=M"]["correlation"] > 0.8, report
    two = report["two_sample"]
    assert two["auc"] <= two["chance_high"], two
    shuffled = used.assign(sex=used.sex.sample(frac=1, random_state=1).to_numpy())
    off = fidelity_report(test.X, test.metadata, synthetic, shuffled, groups=["sex"],
                          n_permutations=10)
    assert off["group_differences"]["sex=M"]["correlation"] < 0.5, off


def test_auto_latent_size_keeps_dimensions_besides_the_projected_ones():
    """latent_dim="auto" only tries sizes larger than the demographic directions transform
    projects out: at or below them the cleaned output is constant and passes the leakage
    test because nothing is left (on ~100 participants that choice kept .04 of a planted
    signal)."""
    assert auto_latent_dims(80, 4) == [8, 16, 32]
    assert auto_latent_dims(1000, 4) == [8, 16, 32, 64]
    assert auto_latent_dims(12, 4) == [8]  # none up to n/2: the smallest that leaves some
    assert auto_latent_dims(500, 70) == [72]
    assert auto_latent_dims(80, 0) == [2, 4, 8, 16, 32]
    data = _small(n=40, seed=3)
    model = DemoVAE(continuous=["age"], categorical=["sex", "site"], latent_dim="auto",
                    hidden_dim=16, n_epochs=10, batch_size=32, random_state=0)
    model.fit(data.X, demographics=data.metadata)
    # age (1) + sex (2 levels: 1) + site (3 levels: 2) = 4 directions projected out
    assert model.size_selection_["size"].tolist() == [8, 16]
    assert model.latent_dim_ in (8, 16) and model.demo_basis_.shape == (model.latent_dim_, 4)
    z = model.transform(data.X)
    assert np.linalg.matrix_rank(z - z.mean(0), tol=1e-6) == model.latent_dim_ - 4
