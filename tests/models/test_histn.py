"""HiSTN: size, regions, graph operators, the smoothing loss, and learning a planted effect."""

import numpy as np
import pytest

from neurodecode.errors import DataError  # noqa: E402
from neurodecode.models._braindecode import ensure_braindecode  # noqa: E402

try:
    ensure_braindecode()
except DataError:
    pytest.skip("braindecode is not installed (pip install neurodecode[deep])", allow_module_level=True)
import torch  # noqa: E402

from neurodecode.metrics.ordinal import onehot_targets, ordinal_targets  # noqa: E402
from neurodecode.models.histn import (  # noqa: E402
    HiSTN,
    HiSTNClassifier,
    OrdinalSmoothingLoss,
    assign_regions,
    chebyshev_basis,
)
from neurodecode.synth.emotion_eeg import EMOTIV_CHANNELS, emotiv_info, make  # noqa: E402


def n_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_about_one_thousand_parameters_at_14_channels_5_classes():
    info = emotiv_info()
    model = HiSTN(n_chans=14, n_outputs=5, n_times=128, sfreq=128, chs_info=info["chs"])
    assert abs(n_params(model) - 1000) <= 100
    assert n_params(model) == 1043  # 512 + 16 + 200 + 14 + 136 + 165 (see module docstring)
    out = model(torch.randn(3, 14, 128))
    assert out.shape == (3, 5)
    # braindecode's signature: signal parameters are inferred like its own models'
    assert model.n_chans == 14 and model.n_outputs == 5 and model.n_times == 128


def test_regions_from_emotiv_positions_are_the_scalp_quadrants():
    info = emotiv_info()
    model = HiSTN(n_outputs=5, n_times=128, chs_info=info["chs"])  # n_chans from chs_info
    groups = [{EMOTIV_CHANNELS[i] for i in np.flatnonzero(model.region_index.numpy() == r)}
              for r in range(4)]  # fmt: skip
    assert groups == [{"AF3", "F7", "F3", "FC5"}, {"AF4", "F8", "F4", "FC6"},
                      {"T7", "P7", "O1"}, {"T8", "P8", "O2"}]  # fmt: skip
    # the same from names alone (MNE's template montage)
    named = HiSTN(n_chans=14, n_outputs=5, n_times=128, ch_names=list(EMOTIV_CHANNELS))
    assert named.region_index.tolist() == model.region_index.tolist()
    # given regions win; channel names are accepted
    given = HiSTN(n_chans=14, n_outputs=5, n_times=128, ch_names=list(EMOTIV_CHANNELS),
                  regions=[EMOTIV_CHANNELS[:7], EMOTIV_CHANNELS[7:]])  # fmt: skip
    assert given.region_index.tolist() == [0] * 7 + [1] * 7
    # no positions: contiguous blocks of channel order
    assert assign_regions(6, 3).tolist() == [0, 0, 1, 1, 2, 2]


def test_chebyshev_basis_on_a_path_graph():
    # path 0-1-2: D^-1/2 A D^-1/2 has 1/sqrt(2) on both edges; L~ = -that
    a = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float)
    t = chebyshev_basis(a, 2)
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(t[0], np.eye(3))
    np.testing.assert_allclose(t[1], -np.array([[0, s, 0], [s, 0, s], [0, s, 0]]))
    np.testing.assert_allclose(t[2], 2 * t[1] @ t[1] - np.eye(3))
    assert t[2][0, 2] != 0 and t[1][0, 2] == 0  # T_2 reaches two hops, T_1 one


def test_smoothing_loss_targets_match_the_metric_and_onehot_is_plain():
    y = torch.tensor([0, 2, 4])
    ordinal = OrdinalSmoothingLoss("ordinal", sigma=0.5)
    np.testing.assert_allclose(ordinal.targets(y, 5).numpy(), ordinal_targets([0, 2, 4], 5, 0.5),
                               rtol=1e-6)  # fmt: skip
    onehot = OrdinalSmoothingLoss("onehot")
    np.testing.assert_array_equal(onehot.targets(y, 5).numpy(), onehot_targets([0, 2, 4], 5))
    logits = torch.randn(3, 5)
    assert onehot(logits, y).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-6
    )
    soft = torch.tensor(ordinal_targets([0, 2, 4], 5, 0.5), dtype=torch.float32)
    expected = -(soft * torch.log_softmax(logits, 1)).sum(1).mean()
    assert ordinal(logits, y).item() == pytest.approx(expected.item(), rel=1e-5)
    assert ordinal(logits, y).item() != pytest.approx(onehot(logits, y).item())


@pytest.fixture
def one_thread():
    """Tiny networks train fastest on one thread (and far faster on a shared, busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_learns_valence_across_subjects_and_not_from_shuffled_labels(one_thread):
    """Leave one subject out on synthetic-emotion-eeg: the planted frontal alpha asymmetry
    is found in new subjects; with shuffled training labels the same model is at chance."""
    world = make(n_subjects=3, seed=1, n_clips=10, segments_per_clip=6, effect=2.0)
    info = emotiv_info()
    X = np.concatenate([world.subjects[s].X for s in ("1", "2")]) * 1e6
    y = np.concatenate([world.subjects[s].y for s in ("1", "2")])
    Xt, yt = world.subjects["3"].X * 1e6, world.subjects["3"].y
    chance = np.bincount(yt).max() / len(yt)

    def fit(labels):
        clf = HiSTNClassifier(random_state=0, max_epochs=25, module__chs_info=info["chs"])
        return clf.fit(X, labels)

    clf = fit(y)
    assert set(clf.predict(Xt)) <= set(y)  # labels, not column indices
    acc = np.mean(clf.predict(Xt) == yt)
    mae = np.mean(np.abs(clf.predict(Xt) - yt))
    shuffled = fit(np.random.default_rng(0).permutation(y))
    acc_shuffled = np.mean(shuffled.predict(Xt) == yt)
    print(f"LOSO accuracy {acc:.3f} (chance {chance:.3f}), MAE {mae:.3f}, shuffled {acc_shuffled:.3f}")
    assert acc > chance + 0.2, (acc, chance)
    assert mae < 0.8
    assert acc_shuffled < chance + 0.15, (acc_shuffled, chance)
    # the same seed gives the same model
    np.testing.assert_allclose(fit(y).predict_proba(Xt), clf.predict_proba(Xt), atol=1e-6)


def test_input_in_volts_is_flagged(one_thread):
    X = np.random.default_rng(0).standard_normal((20, 14, 128)) * 1e-5
    with pytest.warns(UserWarning, match="looks like volts"):
        HiSTNClassifier(max_epochs=1, random_state=0).fit(X, np.arange(20) % 5)
