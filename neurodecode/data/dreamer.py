"""DREAMER (Katsigiannis & Ramzan 2018, IEEE JBHI 22:98-107) from its published ``DREAMER.mat``.

The file holds one MATLAB struct ``DREAMER`` with fields

- ``Data``: 1 x 23 cell, one struct per participant with ``Age``, ``Gender``,
  ``EEG`` (struct: ``baseline`` and ``stimuli``, each an 18 x 1 cell of
  ``(n_samples, 14)`` matrices, one per film clip; the baseline is the neutral clip shown
  before each film), ``ECG`` (same layout, 2 leads at 256 Hz), and ``ScoreValence``,
  ``ScoreArousal``, ``ScoreDominance`` (18 x 1, ratings 1-5);
- ``EEG_SamplingRate`` (128), ``ECG_SamplingRate`` (256), ``EEG_Electrodes`` (1 x 14 cell:
  AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4), ``noOfSubjects`` (23),
  ``noOfVideoSequences`` (18), and ``Disclaimer``, ``Provider``, ``Version``,
  ``Acknowledgement`` strings.

:func:`load_dreamer` cuts every clip's EEG into non-overlapping windows (1 s by default, as
HiSTN and most DREAMER decoders do) that inherit the clip's ratings, one
:class:`~neurodecode.data.TrialData` per participant. :func:`write_dreamer_mat` writes the
same layout (used by the tests, and to hand DREAMER-shaped data to other tools).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neurodecode.data.containers import TrialData
from neurodecode.data.dataset import Dataset
from neurodecode.errors import DataError

EEG_ELECTRODES = (
    "AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4",
)  # fmt: skip
TARGETS = ("valence", "arousal", "dominance")
BASELINES = ("none", "subtract")
_SCORE_FIELD = {"valence": "ScoreValence", "arousal": "ScoreArousal",
                "dominance": "ScoreDominance"}  # fmt: skip


def load_dreamer(
    path: str | Path,
    subjects: Sequence[str | int] | None = None,
    target: str = "valence",
    window_s: float = 1.0,
    last_s: float | None = None,
    baseline: str = "none",
    scale: float = 1e-6,
) -> Dataset:
    """Read ``DREAMER.mat`` into 1-s (``window_s``) EEG windows per participant.

    Parameters
    ----------
    path : path
        ``DREAMER.mat`` as distributed (MATLAB v5/v7 file; read with ``scipy.io.loadmat``).
    subjects : list, optional
        Participants ``1..23`` to keep (default all), numbered in the order of ``Data``.
    target : {"valence", "arousal", "dominance"}
        Which rating becomes ``y`` (all three are in ``metadata``).
    window_s : float
        Window length (s); each clip gives ``floor(duration / window_s)`` windows, the
        incomplete remainder at the end is dropped.
    last_s : float, optional
        Keep only the last ``last_s`` seconds of each clip (several DREAMER papers use 60).
    baseline : {"none", "subtract"}
        ``"subtract"``: subtract, sample by sample, the mean of the clip's baseline windows
        from each of its windows (the baseline removal of several DREAMER/DEAP pipelines).
    scale : float
        Multiplies the stored values (µV) into volts, neurodecode's unit for EEG.

    Returns
    -------
    Dataset
        ``params["paradigm"]`` is ``"Emotion"`` (the benchmark's paradigm for rated windows);
        ``subjects[s].X`` is ``(n_windows, 14, window_s * 128)``; ``y`` the ``target``
        rating (int 1-5); ``metadata`` has subject, session (``"1"``), clip (1-18), segment,
        onset (s from the clip start), valence, arousal, dominance; ``info`` has sfreq,
        channel names, types and 10-20 positions (MNE's template montage).

    Raises
    ------
    DataError
        Missing file, not the DREAMER layout (naming the field that is missing), unknown
        subject, bad option.
    """
    path = Path(path)
    if target not in TARGETS:
        raise DataError(f"target must be one of {TARGETS}, got {target!r}")
    if baseline not in BASELINES:
        raise DataError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if not window_s > 0:
        raise DataError(f"window_s must be > 0, got {window_s}")
    root = _read_root(path)
    sfreq = float(_scalar(root, "EEG_SamplingRate", path))
    names = [str(np.asarray(e).ravel()[0]) for e in _field(root, "EEG_Electrodes", path).ravel()]
    data = _field(root, "Data", path).ravel()
    known = [str(i) for i in range(1, len(data) + 1)]
    ids = known if subjects is None else [str(s).lstrip("0") or "0" for s in subjects]
    missing = [s for s in ids if s not in known]
    if missing:
        raise DataError(f"{path}: unknown subject(s) {missing}; the file has subjects 1..{len(data)}")
    n_win = int(round(window_s * sfreq))
    if n_win < 1:
        raise DataError(f"window_s={window_s} is shorter than one sample at {sfreq} Hz")
    info = _info(names, sfreq)
    out: dict[str, TrialData] = {}
    for s in ids:
        subj = np.asarray(data[int(s) - 1]).ravel()[0]
        where = f"{path}: Data{{{s}}}"
        eeg = np.asarray(_field(subj, "EEG", where)).ravel()[0]
        stimuli = _field(eeg, "stimuli", where + ".EEG").ravel()
        baselines = _field(eeg, "baseline", where + ".EEG").ravel() if baseline != "none" else None
        scores = {k: _field(subj, f, where).ravel().astype(float) for k, f in _SCORE_FIELD.items()}
        for k, v in scores.items():
            if len(v) != len(stimuli):
                raise DataError(f"{where}: {len(v)} {k} scores for {len(stimuli)} stimulus clips")
        windows, rows = [], []
        for c, clip in enumerate(stimuli):
            x = _matrix(clip, len(names), f"{where}.EEG.stimuli{{{c + 1}}}")
            start = 0
            if last_s is not None:
                start = max(0, len(x) - int(round(last_s * sfreq)))
                x = x[start:]
            w = _windows(x, n_win)
            if baselines is not None:
                b = _windows(_matrix(baselines[c], len(names),
                                     f"{where}.EEG.baseline{{{c + 1}}}"), n_win)  # fmt: skip
                if len(b) == 0:
                    raise DataError(f"{where}.EEG.baseline{{{c + 1}}}: shorter than one window")
                w = w - b.mean(0, keepdims=True)
            windows.append(w)
            for i in range(len(w)):
                rows.append(dict(subject=s, session="1", clip=c + 1, segment=i,
                                 onset=(start + i * n_win) / sfreq,
                                 **{k: int(round(v[c])) for k, v in scores.items()}))  # fmt: skip
        X = np.concatenate(windows).transpose(0, 2, 1) * scale
        meta = pd.DataFrame(rows)
        out[s] = TrialData(X=X, subject=s, modality="eeg", y=meta[target].to_numpy(),
                           metadata=meta, info=dict(info))  # fmt: skip
    params = dict(target=target, window_s=window_s, last_s=last_s, baseline=baseline,
                  scale=scale, sfreq=sfreq, paradigm="Emotion")  # fmt: skip
    return Dataset(name="DREAMER", subjects=out, params=params, source=str(path))


def write_dreamer_mat(
    path: str | Path,
    stimuli: Sequence[Sequence[np.ndarray]],
    baselines: Sequence[Sequence[np.ndarray]],
    valence: Sequence[Sequence[int]],
    arousal: Sequence[Sequence[int]],
    dominance: Sequence[Sequence[int]] | None = None,
    sfreq: float = 128.0,
    electrodes: Sequence[str] = EEG_ELECTRODES,
) -> Path:
    """Write ``DREAMER.mat`` in the published layout (see the module docstring).

    ``stimuli[s][c]`` and ``baselines[s][c]`` are ``(n_samples, n_electrodes)`` µV arrays of
    participant ``s`` and clip ``c``; ``valence[s][c]`` etc. the ratings. ECG is written as
    empty matrices at 256 Hz. The file is written to a temporary name, then renamed.
    """
    from scipy.io import savemat

    from neurodecode._files import atomic_path

    n = len(stimuli)
    dominance = dominance if dominance is not None else [[3] * len(v) for v in valence]

    def cell(arrays) -> np.ndarray:
        out = np.empty((len(arrays), 1), dtype=object)
        for i, a in enumerate(arrays):
            out[i, 0] = np.asarray(a, dtype=float)
        return out

    data = np.empty((1, n), dtype=object)
    for s in range(n):
        data[0, s] = {
            "Age": 25.0,
            "Gender": "male",
            "EEG": {"baseline": cell(baselines[s]), "stimuli": cell(stimuli[s])},
            "ECG": {"baseline": cell([np.zeros((0, 2))] * len(stimuli[s])),
                    "stimuli": cell([np.zeros((0, 2))] * len(stimuli[s]))},
            "ScoreValence": np.asarray(valence[s], float).reshape(-1, 1),
            "ScoreArousal": np.asarray(arousal[s], float).reshape(-1, 1),
            "ScoreDominance": np.asarray(dominance[s], float).reshape(-1, 1),
        }  # fmt: skip
    names = np.empty((1, len(electrodes)), dtype=object)
    names[0, :] = list(electrodes)
    root = {
        "Data": data, "EEG_SamplingRate": float(sfreq), "ECG_SamplingRate": 256.0,
        "EEG_Electrodes": names, "noOfSubjects": float(n),
        "noOfVideoSequences": float(len(stimuli[0]) if n else 0),
        "Disclaimer": "written by neurodecode.data.dreamer.write_dreamer_mat (not real data)",
        "Provider": "neurodecode", "Version": "1.0.2", "Acknowledgement": "",
    }  # fmt: skip
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            savemat(fh, {"DREAMER": root}, do_compression=True)
    return path


# ----------------------------------------------------------------------------- helpers
def _read_root(path: Path):
    from scipy.io import loadmat

    if not path.is_file():
        raise DataError(f"{path}: DREAMER.mat not found (request access on Zenodo, record 546113)")
    try:
        mat = loadmat(path, squeeze_me=False, struct_as_record=True)
    except NotImplementedError:
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; DREAMER is distributed as a v5/v7 "
                        "MAT file: re-save it with `save(..., '-v7')`") from None  # fmt: skip
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: not a readable MATLAB file ({err})") from None
    if "DREAMER" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no struct named 'DREAMER' (found {found}); is it DREAMER.mat?")
    return np.asarray(mat["DREAMER"]).ravel()[0]


def _field(struct, name: str, where) -> np.ndarray:
    names = getattr(getattr(struct, "dtype", None), "names", None) or ()
    if name not in names:
        raise DataError(f"{where}: missing field {name!r} of the DREAMER layout (has {list(names)})")
    return np.asarray(struct[name])


def _scalar(struct, name: str, where) -> float:
    value = _field(struct, name, where).ravel()
    if value.size != 1:
        raise DataError(f"{where}: field {name!r} should be one number, got shape {value.shape}")
    return float(value[0])


def _matrix(value, n_channels: int, where: str) -> np.ndarray:
    x = np.asarray(value, dtype=float)
    if x.ndim != 2 or x.shape[1] != n_channels:
        raise DataError(f"{where}: expected a (n_samples, {n_channels}) matrix, got {x.shape}")
    return x


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    """Non-overlapping windows ``(n_windows, n, n_channels)`` from the start of ``x``."""
    k = len(x) // n
    return x[: k * n].reshape(k, n, x.shape[1])


def _info(names: list[str], sfreq: float) -> dict:
    import mne

    builtin = mne.channels.get_builtin_montages()
    montage = mne.channels.make_standard_montage(
        "colin27_1005" if "colin27_1005" in builtin else "standard_1005"
    )
    table = {k.lower(): v for k, v in montage.get_positions()["ch_pos"].items()}
    pos = np.array([table.get(n.lower(), np.full(3, np.nan)) for n in names])
    return {"sfreq": sfreq, "ch_names": list(names), "ch_types": ["eeg"] * len(names),
            "ch_pos": pos, "tmin": 0.0}  # fmt: skip
