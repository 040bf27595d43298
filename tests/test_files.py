"""Outputs honour the umask, caches heal, output folders are checked before work starts.

Each test here failed on the main branch before issue 14 (files were 0600 whatever the umask;
a truncated feature cache entry raised ValueError on every later run; there was no up-front
output check).
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from neurodecode._files import (
    check_writable_dir,
    digest_path,
    verify_digest,
    write_digest,
    write_json,
    write_text,
)
from neurodecode.data.containers import StimulusSet
from neurodecode.data.errors import DataError


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask_022):
    assert _mode(write_text(tmp_path / "a.txt", "x")) == 0o644
    assert _mode(write_json(tmp_path / "b.json", {"a": 1})) == 0o644
    os.umask(0o002)  # a group-shared folder
    assert _mode(write_text(tmp_path / "c.txt", "x")) == 0o664
    # The same as a plain open() under that umask
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    assert _mode(tmp_path / "c.txt") == _mode(tmp_path / "plain.txt")


def test_digest_detects_truncation_and_alteration(tmp_path):
    path = tmp_path / "entry.bin"
    path.write_bytes(b"0123456789" * 100)
    assert verify_digest(path) == "no valid digest beside it"
    write_digest(path)
    assert digest_path(path).exists()
    assert verify_digest(path) is None
    path.write_bytes(b"0123456789" * 50)
    assert "truncated" in verify_digest(path)
    path.write_bytes(b"x123456789" + b"0123456789" * 99)
    assert "altered" in verify_digest(path)


def _stimuli(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return StimulusSet(ids=np.arange(n), images=rng.integers(0, 256, (n, 16, 16, 3), np.uint8))


@pytest.mark.parametrize("damage", ["truncate", "flip", "truncate-no-digest"])
def test_corrupt_feature_cache_entry_is_rebuilt_with_a_warning(tmp_path, damage):
    from neurodecode.features.base import extract_cached, get_extractor

    stimuli = _stimuli()
    ext = get_extractor("pixels-4")
    first = extract_cached(ext, stimuli, tmp_path)
    (entry,) = tmp_path.glob("*.npy")
    raw = entry.read_bytes()
    if damage.startswith("truncate"):
        entry.write_bytes(raw[: len(raw) // 2])
        if damage == "truncate-no-digest":  # an entry from before digests existed
            digest_path(entry).unlink()
    else:  # same size, one value changed: only the hash sees it
        entry.write_bytes(raw[:-4] + bytes(4))
    with pytest.warns(UserWarning, match="corrupt.*rebuilding"):
        again = extract_cached(ext, stimuli, tmp_path)
    np.testing.assert_array_equal(again, first)
    assert verify_digest(entry) is None  # healed on disk too
    np.testing.assert_array_equal(extract_cached(ext, stimuli, tmp_path), first)


def test_check_writable_dir(tmp_path):
    assert check_writable_dir(tmp_path / "new" / "folder").is_dir()
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(DataError, match=r"--out .*file.txt: is a file, expected a folder"):
        check_writable_dir(afile)
    with pytest.raises(DataError, match="--out .*cannot create"):
        check_writable_dir(afile / "sub")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(DataError, match="not writable"):
                check_writable_dir(locked, option="--cache")
        finally:
            locked.chmod(0o700)


def test_corrupt_cached_decoder_is_retrained_with_a_warning(tmp_path):
    """A truncated cached model.safetensors made every later `reconstruct` fail with a
    SafetensorError traceback before issue 14."""
    import pandas as pd
    import torch

    from neurodecode.data.containers import TrialData
    from neurodecode.reconstruct.pipeline import trained_decoder
    from neurodecode.training.experiment import ExperimentConfig, prepare_data

    rng = np.random.default_rng(0)
    stimuli = _stimuli(n=24)
    ids = np.repeat(np.arange(24), 2)
    data = TrialData(X=rng.standard_normal((48, 20)).astype(np.float32), subject="1",
                     modality="fmri", stimulus_ids=ids,
                     metadata=pd.DataFrame({"split": np.where(ids < 18, "train", "test")}))
    cfg = ExperimentConfig.from_dict({
        "name": "cache-heal", "data": {}, "targets": [{"space": "pixels-4"}],
        "model": {"width": 8, "depth": 1, "adapter": {"kind": "linear"}},
        "train": {"epochs": 1, "batch_size": 12, "losses": [{"name": "mse",
                                                             "head": "pixels-4"}]}})
    prepared = prepare_data({"1": data}, stimuli, ["pixels-4"], cache=tmp_path / "features")
    first, directory = trained_decoder(cfg, prepared, quiet=True, cache=tmp_path)
    weights = directory / "model.safetensors"
    assert verify_digest(weights) is None
    raw = weights.read_bytes()
    weights.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(UserWarning, match=r"cached decoder .* is corrupt .*retraining it"):
        again, same_dir = trained_decoder(cfg, prepared, quiet=True, cache=tmp_path)
    assert same_dir == directory and verify_digest(weights) is None
    for (name, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name  # seeded training: the rebuilt entry is the same
