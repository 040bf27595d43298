"""The brain module: positions from real MNE infos, masking, subjects with different sensor
sets (MEG and EEG), the train-only robust scaler, strict checkpoints."""

from pathlib import Path

import numpy as np
import pytest
import torch

from neurodecode.data.errors import DataError
from neurodecode.models.brain_module import (
    KINDS,
    BrainModule,
    BrainModuleConfig,
    count_parameters,
    sensor_positions,
)
from neurodecode.models.decoder import HeadConfig
from neurodecode.synth.meg_vision import system_sensors

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mne_sample_subset"
RAW = SAMPLE / "sample_audvis_trunc_raw_sss.fif"
needs_sample = pytest.mark.skipif(not RAW.exists(), reason=f"real MNE sample data absent: {RAW}")


@pytest.fixture(scope="module")
def sample_info():
    import mne

    return mne.io.read_info(RAW, verbose="error")


@needs_sample
def test_positions_from_the_real_neuromag_and_eeg_layout(sample_info):
    pos, kinds = sensor_positions(sample_info)
    assert pos.shape == (366, 2) and ((pos > 0) & (pos < 1)).all()
    assert np.bincount(kinds, minlength=len(KINDS)).tolist() == [102, 204, 60, 0]
    names = [n for n in sample_info["ch_names"] if n.startswith(("MEG", "EEG"))]
    at = {n: pos[names.index(n)] for n in ("MEG 0111", "MEG 1411", "MEG 0811", "MEG 2111",
                                           "EEG 001", "EEG 060")}
    assert at["MEG 0111"][0] < 0.3 and at["MEG 1411"][0] > 0.7  # left / right temporal
    assert at["MEG 0811"][1] > 0.8 > 0.2 > at["MEG 2111"][1]  # frontal above occipital
    assert abs(at["MEG 0811"][0] - 0.5) < 0.05 and abs(at["MEG 2111"][0] - 0.5) < 0.05
    assert at["EEG 001"][1] > 0.9 and at["EEG 060"][1] < 0.1  # Fp1-ish / Oz-ish
    sub, _ = sensor_positions(sample_info, ["MEG 2111", "MEG 0111"])
    np.testing.assert_array_equal(sub, [at["MEG 2111"], at["MEG 0111"]])


def test_positions_of_a_trialdata_info_dict_fall_back_to_the_ctf_layout():
    names, types, pos2d, pos3d = system_sensors("CTF-275")
    pos, kinds = sensor_positions({"ch_names": names, "ch_types": types, "ch_pos": pos3d})
    np.testing.assert_allclose(pos, pos2d, atol=1e-6)
    assert (kinds == 0).all()
    with pytest.raises(DataError, match="lacks"):
        sensor_positions({"ch_names": names})


def _config(subjects: dict[str, int], n_times: int = 40, **kw) -> BrainModuleConfig:
    heads = [HeadConfig("world-embed", (20,)), HeadConfig("pixels-16", (3, 16, 16), "spatial",
                                                          channels=8)]
    return BrainModuleConfig(n_features=subjects, n_times=n_times, heads=heads,
                             clip=["world-embed"], spatial_channels=16, hidden=16,
                             out_channels=32, fourier_freqs=4, baseline_samples=6, **kw)


@pytest.fixture()
def mixed_model():
    """CTF-275 MEG, Neuromag-306 MEG and BioSemi-64 EEG subjects in one model."""
    torch.manual_seed(0)
    systems = {"ctf": "CTF-275", "vv": "Vectorview-all", "eeg": "biosemi64"}
    sensors = {s: system_sensors(v) for s, v in systems.items()}
    model = BrainModule(_config({s: len(v[0]) for s, v in sensors.items()}))
    for s, (names, types, _pos2d, pos3d) in sensors.items():
        pos, kinds = sensor_positions({"ch_names": names, "ch_types": types, "ch_pos": pos3d})
        model.set_sensors(s, pos, kinds)
    return model.eval(), sensors


def test_subjects_with_different_sensor_sets_share_one_model(mixed_model):
    model, sensors = mixed_model
    for s, (names, *_rest) in sensors.items():
        out = model(torch.randn(3, len(names), 40), s)
        assert out["shared"].shape == (3, 32)
        assert out["world-embed"].shape == out["clip:world-embed"].shape == (3, 20)
        assert out["pixels-16"].shape == (3, 3, 16, 16)
    kinds = model.sensors["vv"].kind
    assert set(kinds.tolist()) == {0, 1} and set(model.sensors["eeg"].kind.tolist()) == {2}
    # one set of spatial weights, per-subject layers
    assert len(model.subject_layers) == 3
    with pytest.raises(DataError, match="subject ctf: expected input"):
        model(torch.randn(2, 64, 40), "ctf")


def test_masked_and_bad_sensors_get_zero_weight_and_cannot_leak(mixed_model):
    model, sensors = mixed_model
    n = len(sensors["vv"][0])
    s = model.sensors["vv"]
    valid = torch.ones(2, n, dtype=torch.bool)
    valid[:, :30] = False
    w = model.attention.weights(s.pos, s.kind, valid)
    assert torch.all(w[:, :, :30] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 16))
    x = torch.randn(2, n, 40)
    y = x.clone()
    y[:, :30] = 1e3 * torch.randn(2, 30, 40)  # garbage (even NaN) on the dropped sensors
    y[:, 5] = float("nan")
    mask = torch.ones(n, dtype=torch.bool)
    mask[:30] = False
    a = model(x, "vv", mask=mask)["clip:world-embed"]
    b = model(y, "vv", mask=mask)["clip:world-embed"]
    torch.testing.assert_close(a, b)
    # bad sensors of the subject are masked the same way
    model.set_sensors("vv", s.pos.numpy(), s.kind.numpy(), bad=~mask.numpy())
    torch.testing.assert_close(model(y, "vv")["clip:world-embed"], a)
    with pytest.raises(DataError, match="no valid sensor"):
        model(x, "vv", mask=torch.zeros(n, dtype=torch.bool))


def test_spatial_dropout_removes_sensors_near_a_point_only_in_training(mixed_model):
    model, sensors = mixed_model
    x = torch.randn(4, len(sensors["ctf"][0]), 40)
    model.attention.dropout_radius = 0.3
    s = model.sensors["ctf"]
    torch.manual_seed(1)
    model.attention.train()
    captured = {}
    original = model.attention.weights

    def spy(pos, kind, valid):
        captured["valid"] = valid
        return original(pos, kind, valid)

    model.attention.weights = spy
    model.attention(x, s.pos, s.kind, s.valid[None].expand(4, -1))
    dropped = ~captured["valid"]
    assert dropped.any(1).all() and (~dropped).any(1).all()
    for row in dropped:  # the dropped sensors form one disc of radius 0.3
        d = s.pos[row]
        assert torch.cdist(d, d).max() <= 0.6 + 1e-6
    model.attention.eval()
    model.attention(x, s.pos, s.kind, s.valid[None].expand(4, -1))
    assert captured["valid"].all()


def test_robust_scaler_uses_training_statistics_and_clamps():
    model = BrainModule(_config({"a": 3}, n_times=20))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3, 20)) * np.array([1e-13, 2e-13, 5e-6])[None, :, None]
    model.fit_scaler("a", X)
    base = X - X[..., :6].mean(-1, keepdims=True)
    flat = base.transpose(0, 2, 1).reshape(-1, 3)
    q1, med, q3 = np.percentile(flat, [25, 50, 75], axis=0)
    np.testing.assert_allclose(model.sensors["a"].center.numpy(), med, rtol=1e-6)
    np.testing.assert_allclose(model.sensors["a"].scale.numpy(), q3 - q1, rtol=1e-6)
    spike = X[:1].copy()
    spike[0, 0, 10] = 1e-9  # 10^4 IQRs
    z = model.preprocess(torch.from_numpy(spike).float(), "a")
    assert float(z.abs().max()) == pytest.approx(20.0)


def test_checkpoint_round_trip_is_exact_and_strict(tmp_path, mixed_model):
    from neurodecode.training.meg import load_brain_module, save_brain_module

    model, sensors = mixed_model
    save_brain_module(model, tmp_path / "ckpt")
    back, meta = load_brain_module(tmp_path / "ckpt")
    x = torch.randn(2, len(sensors["eeg"][0]), 40)
    for k, v in model(x, "eeg").items():
        torch.testing.assert_close(back(x, "eeg")[k], v)
    torch.testing.assert_close(back.sensors["vv"].pos, model.sensors["vv"].pos)
    meta["brain_module"]["hidden"] = 8
    (tmp_path / "ckpt" / "config.json").write_text(__import__("json").dumps(meta))
    with pytest.raises(DataError, match="does not match"):
        load_brain_module(tmp_path / "ckpt")


def test_parameter_count_of_the_paper_sizes():
    cfg = BrainModuleConfig(n_features={"1": 271, "2": 271, "3": 271, "4": 271}, n_times=181,
                            heads=[HeadConfig("dinov2", (768,))], clip=["dinov2"],
                            spatial_channels=270, fourier_freqs=32, hidden=320, depth=5,
                            out_channels=2048)
    counts = count_parameters(cfg)
    assert counts["subject_layers"] == 4 * 270 * 270
    assert counts["spatial"] == 2048 * 270 + 270 + len(KINDS) * 270 + 270 * 270 + 270
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total") + 182
