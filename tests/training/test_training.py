"""Training recovers the planted mapping, falls to chance on shuffled data, resumes exactly,
and adapts new subjects with explicit bookkeeping."""

import copy
import json

import numpy as np
import pytest
import torch

from neurodecode.data.errors import DataError
from neurodecode.reconstruct.pipeline import shuffle_pairing
from neurodecode.training import (
    build_decoder,
    evaluate,
    fit,
    load_checkpoint,
    load_config,
    load_dataset,
    prepare_data,
    train,
)
from neurodecode.training.adapt import adapt

pytestmark = pytest.mark.slow


def _prepared(cfg):
    subjects, stimuli = load_dataset(cfg.data)
    return prepare_data(subjects, stimuli, [t["space"] for t in cfg.targets])


def test_decoder_learns_planted_semantics_and_shuffled_data_gives_chance(small_config):
    prepared = _prepared(small_config)
    names = list(prepared.train)
    model = build_decoder(small_config, prepared, names)
    logs = train(model, prepared.batches(names), small_config.train, quiet=True)
    assert {"mse:world-embed", "softclip:world-embed"} <= set(logs[-1])
    real = evaluate(model, prepared, "1", "world-embed")
    assert real["set_size"] == 40 and real["chance_top1"] == pytest.approx(1 / 40)
    assert real["top1_forward"] > 0.4 and real["two_way"] > 0.9

    shuffled = shuffle_pairing(prepared, seed=1)
    null = build_decoder(small_config, shuffled, names)
    train(null, shuffled.batches(names), small_config.train, quiet=True)
    chance = [evaluate(null, shuffled, s, "world-embed") for s in names]
    assert np.mean([c["top1_forward"] for c in chance]) < 0.1
    assert abs(np.mean([c["two_way"] for c in chance]) - 0.5) < 0.12


def test_resumed_training_matches_an_uninterrupted_run(small_config, tmp_path, monkeypatch):
    small_config.train.epochs = 3
    full, _, _ = fit(small_config, out_dir=tmp_path / "full", quiet=True)
    interrupted = copy.deepcopy(small_config)
    interrupted.train.epochs = 3
    # Run one epoch, then pretend the process died: keep only the epoch-1 checkpoint.
    calls = {"n": 0}

    class Stop(Exception):
        pass

    import neurodecode.training.checkpoint as checkpoint

    original = checkpoint.save_trainer_state

    def dying_save(directory, epoch, optimizer, scheduler):
        original(directory, epoch, optimizer, scheduler)
        calls["n"] += 1
        if calls["n"] == 1:
            raise Stop

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "save_trainer_state", dying_save)
        with pytest.raises(Stop):
            fit(interrupted, out_dir=tmp_path / "resumed", quiet=True)
    resumed, _, _ = fit(interrupted, out_dir=tmp_path / "resumed", quiet=True, resume=True)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(),
                            strict=True):
        assert torch.allclose(a, b, atol=1e-5), name
    log = (tmp_path / "resumed" / "train_log.csv").read_text().splitlines()
    assert len(log) == len((tmp_path / "full" / "train_log.csv").read_text().splitlines())
    metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())["retrieval"]
    assert {m["subject"] for m in metrics} == {"1", "2", "3"}


@pytest.mark.parametrize("policy", ["adapter_only", "reset_tune", "full"])
def test_adaptation_reinitialises_only_the_new_subject_and_reports_it(small_config, policy):
    small_config.model["adapter"] = {"kind": "linear", "builder": True, "builder_hidden": 32}
    prepared = _prepared(small_config)
    model = build_decoder(small_config, prepared, ["2", "3"])
    train(model, prepared.batches(["2", "3"]), small_config.train, quiet=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = copy.deepcopy(small_config.train)
    cfg.epochs = 4
    adapted, report = adapt(model, prepared, "1", policy, cfg, fraction=0.5, quiet=True)
    assert report["reinitialised"] and all(".1." in n for n in report["reinitialised"])
    assert report["n_train_trials"] < prepared.train["1"].n_trials
    after = adapted.state_dict()
    backbone_changed = any(not torch.equal(before[k], after[k]) for k in before
                           if k.startswith("backbone."))
    assert backbone_changed == (policy == "full")
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("adapters.2."))
    if policy != "full":
        assert all(n.startswith(("adapters.1.", "builders.1.")) for n in report["trainable"])
    result = evaluate(adapted, prepared, "1", "world-embed")
    assert result["top1_forward"] > 3 * result["chance_top1"]


def test_reset_tune_without_builders_is_refused(small_config):
    prepared = _prepared(small_config)
    model = build_decoder(small_config, prepared, ["2"])
    with pytest.raises(ValueError, match="builder"):
        adapt(model, prepared, "1", "reset_tune", small_config.train)


def test_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {}\ntargets: []\nmodell: {}\n")
    with pytest.raises(DataError, match="bad.yaml.*modell"):
        load_config(bad)
    with pytest.raises(DataError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    assert load_checkpoint  # imported API stays public
