"""Ridge as a first-class decoder, the ridge+deep residual, early stopping, and two defects a
real run exposed (the cycle loss standardised twice; the decoder cache keyed on 50 rows)."""

import copy

import numpy as np
import pytest
import torch

from neurodecode.metrics.identification import two_way_identification
from neurodecode.models import AdapterConfig, BrainDecoder, DecoderConfig, HeadConfig
from neurodecode.ridge import MultiRidgeCV
from neurodecode.training.checkpoint import load_checkpoint, save_checkpoint
from neurodecode.training.experiment import (
    ExperimentConfig,
    build_decoder,
    load_dataset,
    predict,
    prepare_data,
)
from neurodecode.training.trainer import train, validation_split


@pytest.fixture(scope="module")
def prepared():
    from tests.training.conftest import SMALL

    cfg = ExperimentConfig.from_dict(copy.deepcopy(SMALL))
    subjects, stimuli = load_dataset(cfg.data)
    return prepare_data(subjects, stimuli, ["world-embed"])


def _cfg(decoder, **train):
    from tests.training.conftest import SMALL

    d = copy.deepcopy(SMALL)
    d["model"]["decoder"] = decoder
    d["train"].update(train)
    return ExperimentConfig.from_dict(d)


def _two_way(model, prepared, subject="1"):
    test = prepared.test[subject]
    pred = predict(model, test.X, subject)["world-embed"]
    return two_way_identification(prepared.target_rows(test)["world-embed"], pred)


@pytest.mark.slow
def test_ridge_decoder_is_multiridgecv_per_subject_and_shuffles_to_chance(prepared, tmp_path):
    cfg = _cfg("ridge")
    model = build_decoder(cfg, prepared, ["1", "2"])
    logs = train(model, prepared.batches(["1", "2"]), cfg.train, quiet=True)
    assert logs[0]["decoder"] == "ridge"
    assert not list(model.parameters())  # closed form: nothing trained by gradient
    from sklearn.model_selection import GroupKFold

    from neurodecode.training.trainer import RIDGE_ALPHAS

    train_1 = prepared.train["1"]
    folds = list(GroupKFold(3).split(train_1.X, groups=train_1.stimulus_ids))  # by image
    ref = MultiRidgeCV(alphas=RIDGE_ALPHAS, cv=folds).fit(
        train_1.X, prepared.target_rows(train_1)["world-embed"])
    test = prepared.test["1"]
    ours = predict(model, test.X, "1")["world-embed"]
    np.testing.assert_allclose(ours, ref.predict(test.X), rtol=2e-3, atol=2e-3)  # float32
    assert _two_way(model, prepared) > 0.95
    save_checkpoint(model, tmp_path / "ridge")
    again, _ = load_checkpoint(tmp_path / "ridge")
    np.testing.assert_array_equal(predict(again, test.X, "1")["world-embed"], ours)

    from neurodecode.reconstruct.pipeline import shuffle_pairing

    shuffled = shuffle_pairing(prepared, seed=0)
    null = build_decoder(cfg, shuffled, ["1"])
    train(null, shuffled.batches(["1"]), cfg.train, quiet=True)
    assert 0.3 < _two_way(null, prepared) < 0.7


@pytest.mark.slow
def test_ridge_plus_deep_falls_back_to_ridge_when_the_deep_part_fails(prepared):
    ridge = build_decoder(_cfg("ridge"), prepared, ["1"])
    train(ridge, prepared.batches(["1"]), _cfg("ridge").train, quiet=True)
    # a learning rate that wrecks the deep part: the validation blend keeps ridge alone
    cfg = _cfg("ridge+deep", lr=5.0, epochs=2, val_fraction=0.2, patience=1)
    model = build_decoder(cfg, prepared, ["1"])
    logs = train(model, prepared.batches(["1"]), cfg.train, quiet=True)
    assert [row["mix"] for row in logs if "mix" in row] == ["0.0"]
    assert model.mix.tolist() == [0.0]
    x = prepared.test["1"].X
    # the ridge part refitted on every training trial: exactly the ridge decoder
    np.testing.assert_allclose(predict(model, x, "1")["world-embed"],
                               predict(ridge, x, "1")["world-embed"], rtol=1e-4, atol=1e-4)


class _TwoPredictors(torch.nn.Module):
    """A stand-in decoder whose deep and ridge outputs are planted: ``mix*A + (1-mix)*B``."""

    def __init__(self, deep, ridge):
        super().__init__()
        from types import SimpleNamespace

        self.cfg = SimpleNamespace(heads=[HeadConfig("t", (deep.shape[1],))])
        self.register_buffer("mix", torch.ones(1))
        self.deep, self.ridge = torch.from_numpy(deep), torch.from_numpy(ridge)

    def forward(self, x, subject):
        return {"t": self.mix[0] * self.deep + (1 - self.mix[0]) * self.ridge}


def test_blend_is_chosen_on_validation_data():
    from neurodecode.training.trainer import SubjectBatches, choose_mix

    rng = np.random.default_rng(0)
    target = rng.normal(size=(200, 30)).astype(np.float32)
    val = {"1": SubjectBatches(np.zeros((200, 1), np.float32), {"t": target})}
    noise = lambda s: rng.normal(scale=s, size=target.shape).astype(np.float32)  # noqa: E731
    good, useless = target + noise(0.3), noise(1.0)
    assert choose_mix(_TwoPredictors(good, useless), val) == [1.0]
    assert choose_mix(_TwoPredictors(useless, good), val) == [0.0]
    # two equally good predictors with independent errors: averaging them is best
    assert choose_mix(_TwoPredictors(target + noise(1.0), target + noise(1.0)), val)[0] == \
        pytest.approx(0.5, abs=0.1)


def test_identifying_heads_are_blended_by_identification_not_correlation():
    from neurodecode.metrics.identification import two_way_identification
    from neurodecode.training.trainer import SubjectBatches, choose_mix

    rng = np.random.default_rng(1)
    common = 3.0 * rng.normal(size=(1, 40))  # a pattern every target shares (a mean image)
    item = rng.normal(size=(150, 40))  # what tells the stimuli apart
    target = (common + item).astype(np.float32)
    # "deep" gets the shared pattern right and the items barely: high per-sample r, poor
    # identification; "ridge" the reverse
    deep = (common + 0.2 * item + 2.0 * rng.normal(size=item.shape)).astype(np.float32)
    ridge = (0.3 * common + item + 2.0 * rng.normal(size=item.shape)).astype(np.float32)
    val = {"1": SubjectBatches(np.zeros((150, 1), np.float32), {"t": target})}
    by_r = choose_mix(_TwoPredictors(deep, ridge), val)[0]
    by_id = choose_mix(_TwoPredictors(deep, ridge), val, identify=("t",))[0]
    assert by_id < by_r

    def two_way(m):
        return two_way_identification(target, m * deep + (1 - m) * ridge)

    assert two_way(by_id) > two_way(by_r)
    assert two_way(by_id) >= max(two_way(m) for m in np.linspace(0, 1, 11)) - 1e-12


def test_validation_split_holds_out_whole_stimuli(prepared):
    batches = prepared.batches(["1"])
    fit, val = validation_split(batches, 0.2, seed=0)
    ids_fit, ids_val = fit["1"].stimulus_ids, val["1"].stimulus_ids
    assert not set(ids_fit) & set(ids_val)
    assert len(ids_fit) + len(ids_val) == len(batches["1"].X)
    assert abs(len(np.unique(ids_val)) / len(np.unique(batches["1"].stimulus_ids)) - 0.2) < 0.02


def test_cycle_loss_is_the_same_on_raw_scale_betas():
    """Builders output standardised voxels; embedding them must not standardise again."""
    torch.manual_seed(0)
    cfg = DecoderConfig(n_features={"1": 30, "2": 40}, heads=[HeadConfig("world-embed", (5,))],
                        adapter=AdapterConfig(kind="linear", builder=True, builder_hidden=16),
                        width=16, depth=1, dropout=0.0)
    z_model = BrainDecoder(cfg).eval()
    raw_model = copy.deepcopy(z_model)
    rng = np.random.default_rng(0)
    z = {s: rng.normal(size=(50, n)).astype(np.float32) for s, n in cfg.n_features.items()}
    raw = {s: (v * 800.0 + 300.0).astype(np.float32) for s, v in z.items()}  # raw-scale betas
    for s in z:
        z_model.scalers[s].fit(z[s])
        raw_model.scalers[s].fit(raw[s])
    a = z_model(torch.from_numpy(z["1"]), "1", cycle_to="2")
    b = raw_model(torch.from_numpy(raw["1"]), "1", cycle_to="2")
    torch.testing.assert_close(a["shared"], b["shared"], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(a["cycled"], b["cycled"], rtol=1e-4, atol=1e-4)
    expected = raw_model.adapters["2"](raw_model.builders["2"](b["shared"]))
    torch.testing.assert_close(b["cycled"], expected)


def test_decoder_cache_key_covers_every_trial(prepared):
    from dataclasses import replace

    from neurodecode.reconstruct.pipeline import decoder_cache_key

    cfg = _cfg("deep")
    key = decoder_cache_key(cfg, prepared)
    train_1 = prepared.train["1"]
    X = np.array(train_1.X, copy=True)
    X[len(X) - 1, 0] += 1.0  # far beyond the first 50 rows
    changed = replace(prepared, train={**prepared.train, "1": replace(train_1, X=X)})
    assert decoder_cache_key(cfg, changed) != key
    ids = np.array(train_1.stimulus_ids, copy=True)
    ids[[60, 61]] = ids[[61, 60]]
    repaired = replace(prepared, train={**prepared.train, "1": replace(train_1, stimulus_ids=ids)})
    assert ids[60] == ids[61] or decoder_cache_key(cfg, repaired) != key
    assert decoder_cache_key(cfg, prepared, shuffled=True) != key
    assert decoder_cache_key(_cfg("ridge"), prepared) != key


@pytest.mark.slow
def test_ridge_part_of_ridge_plus_deep_is_the_ridge_baseline(prepared):
    from neurodecode.models.decoder import ridge_part

    cfg = _cfg("ridge+deep", epochs=1)
    model = build_decoder(cfg, prepared, ["1"])
    train(model, prepared.batches(["1"]), cfg.train, quiet=True)
    ridge = build_decoder(_cfg("ridge"), prepared, ["1"])
    train(ridge, prepared.batches(["1"]), _cfg("ridge").train, quiet=True)
    x = prepared.test["1"].X
    np.testing.assert_allclose(predict(ridge_part(model), x, "1")["world-embed"],
                               predict(ridge, x, "1")["world-embed"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="no ridge part"):
        ridge_part(build_decoder(_cfg("deep"), prepared, ["1"]))


@pytest.mark.slow
def test_takagi_nishimoto_recipe_reads_each_target_from_its_roi():
    from neurodecode.training.experiment import load_config
    from tests.training.conftest import takagi_nishimoto_two_way

    cfg = load_config("pipelines/recon/takagi-nishimoto.yaml")
    cfg.data["subjects"] = ["1"]
    cfg.data["params"] = {"seed": 0, "n_subjects": 1, "n_train": 150, "n_test": 40}
    assert takagi_nishimoto_two_way(cfg) > 0.9


def test_every_yaml_head_option_reaches_the_head():
    """``channels`` was accepted by the config check and then silently ignored."""
    from tests.training.conftest import SMALL

    d = copy.deepcopy(SMALL)
    d["data"]["params"].update(n_subjects=1, n_train=20, n_test=4)
    d["data"]["subjects"] = [1]
    d["targets"] = [{"space": "world-embed", "head": "lowrank", "rank": 5},
                    {"space": "pixels-16", "head": "spatial", "channels": 8}]
    cfg = ExperimentConfig.from_dict(d)
    subjects, stimuli = load_dataset(cfg.data)
    data = prepare_data(subjects, stimuli, ["world-embed", "pixels-16"])
    model = build_decoder(cfg, data, ["1"])
    assert model.heads["world-embed"].net[0].out_features == 5
    assert model.heads["pixels-16"].channels == 8


def test_a_head_reading_a_missing_roi_is_a_data_error(prepared):
    from neurodecode.errors import DataError

    cfg = _cfg("ridge")
    cfg.targets = [{"space": "world-embed", "head": "linear", "roi": "early"}]
    model = build_decoder(cfg, prepared, ["1"])
    batches = prepared.batches(["1"])
    batches["1"].rois = None
    with pytest.raises(DataError, match=r"read ROI 'early' but subject 1 has ROIs \[\].*roi-"):
        train(model, batches, cfg.train, quiet=True)
