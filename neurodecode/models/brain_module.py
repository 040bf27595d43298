"""The MEG/EEG brain module of Défossez et al. (2023) as used by Benchetrit et al. (2024).

Défossez, Caucheteux, Rapin, Kabeli & King (2023), "Decoding speech perception from
non-invasive brain recordings", Nat. Mach. Intell. 5:1097; Benchetrit, Banville & King (2024),
"Brain decoding: toward real-time reconstruction of visual perception", ICLR.

``x`` (batch, n_sensors, n_times) in the recording's units (T, T/m, V) goes through

1. **per-subject preprocessing** held as buffers fit on training trials only
   (:meth:`BrainModule.fit_scaler`): baseline correction on the pre-onset samples, robust
   scaling per sensor (median and inter-quartile range, scikit-learn's ``RobustScaler``) and
   clamping to ``±clamp``;
2. **spatial attention** (:class:`SpatialAttention`): each of ``spatial_channels`` virtual
   channels is a softmax-weighted sum of the input sensors; the weights are a function of the
   sensors' 2-D layout positions (Fourier features) plus a learned offset per sensor kind
   (magnetometer / planar gradiometer / EEG / other). Missing or bad sensors get logit −inf,
   so subjects with different sensor sets (and EEG) share the same weights; in training all
   sensors within ``spatial_dropout`` of a random point are dropped;
3. a 1x1 convolution, then a **per-subject 1x1 convolution** (initialised to the identity);
4. **residual dilated convolution blocks** (kernel 3, dilations ``2**(2k mod 5)`` and
   ``2**(2k+1 mod 5)``, batch norm, GELU), a gated linear unit (GLU) after every
   ``glu_every``-th block;
5. two 1x1 convolutions to ``out_channels``, **temporal aggregation** (a learned affine map
   over time, or the mean) and, per target space, a regression (MSE) head and optionally a
   separate contrastive (CLIP) head ``clip:<space>``.

Sensor positions come from :func:`sensor_positions` (MNE's layouts).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurodecode.data.errors import DataError
from neurodecode.models.decoder import HeadConfig, build_head

#: Sensor kinds: index into the kind embedding of the spatial attention.
KINDS = ("mag", "grad", "eeg", "other")
CLIP_PREFIX = "clip:"


# ----------------------------------------------------------------------------- positions
def _clean(name: str) -> str:
    """Channel names as layouts spell them: no spaces, no CTF system suffix (``MLC11-2622``)."""
    return name.split("-")[0].replace(" ", "").upper()


def _find_info(obj):
    """An :class:`mne.Info` from an Info, a TrialData (its info dict) or a plain dict."""
    import mne

    if isinstance(obj, mne.Info):
        return obj
    info = getattr(obj, "info", obj)
    if isinstance(info, mne.Info):
        return info
    if not isinstance(info, dict):
        raise DataError(f"sensor positions need an mne.Info, a TrialData or its info dict, "
                        f"got {type(obj).__name__}")
    for value in info.values():  # a TrialData that keeps MNE's own Info
        if isinstance(value, mne.Info):
            return value
    missing = [k for k in ("ch_names", "ch_types", "ch_pos") if k not in info]
    if missing:
        raise DataError(f"sensor info lacks {missing}; positions need channel names, types "
                        "and positions (TrialData from neurodecode.data loaders have them)")
    built = mne.create_info(list(info["ch_names"]), float(info.get("sfreq", 1000.0)),
                            list(info["ch_types"]))
    for ch, xyz in zip(built["chs"], np.asarray(info["ch_pos"], float), strict=True):
        ch["loc"][:3] = xyz
    if "bads" in info:
        built["bads"] = list(info["bads"])
    return built


def _kind(ch_type: str) -> int:
    if ch_type == "mag":
        return 0
    if ch_type == "grad":
        return 1
    if ch_type == "eeg":
        return 2
    return 3


def _layout_positions(info, picks: list[int], ch_type: str) -> np.ndarray | None:
    """Centres of ``picks`` in the MNE layout for ``ch_type`` (None if a name is missing)."""
    import mne

    names = [_clean(info["ch_names"][i]) for i in picks]
    candidates = []
    try:
        candidates.append(mne.channels.find_layout(info, ch_type=ch_type))
    except (RuntimeError, ValueError):
        pass
    if ch_type == "meg":  # CTF channel names without CTF coil types (e.g. rebuilt infos)
        candidates.append(mne.channels.read_layout("CTF-275"))
    for layout in candidates:
        index = {_clean(n): i for i, n in enumerate(layout.names)}
        if all(n in index for n in names):
            rows = [index[n] for n in names]
            return layout.pos[rows, :2] + layout.pos[rows, 2:4] / 2
    return None


def _projected_positions(info, picks: list[int]) -> np.ndarray:
    """Azimuthal equidistant projection of the 3-D sensor positions about the best-fitting
    sphere's centre (as MNE's topomaps do), scaled to the unit box like MNE's layouts."""
    locs = np.array([info["chs"][i]["loc"][:3] for i in picks], float)
    if len(locs) < 4 or not np.isfinite(locs).all() or np.allclose(locs, 0):
        names = [info["ch_names"][i] for i in picks[:3]]
        raise DataError(f"channels {names}...: no usable 3-D positions and no MNE layout; set "
                        "a montage (EEG) or keep the MEG coil definitions")
    # Linear least-squares sphere fit: |p|^2 = 2 c.p + (r^2 - |c|^2).
    A = np.c_[2 * locs, np.ones(len(locs))]
    sol = np.linalg.lstsq(A, (locs**2).sum(1), rcond=None)[0]
    rel = locs - sol[:3]
    r = np.linalg.norm(rel, axis=1)
    theta = np.arccos(np.clip(rel[:, 2] / r, -1, 1))
    phi = np.arctan2(rel[:, 1], rel[:, 0])
    xy = np.c_[theta * np.cos(phi), theta * np.sin(phi)]
    return 0.5 + 0.45 * xy / np.abs(xy).max()


def sensor_positions(info, ch_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D layout positions and kinds of data channels, for :class:`SpatialAttention`.

    MEG channels take their centres in the MNE layout that :func:`mne.channels.find_layout`
    picks for the system (``Vectorview-all`` for Neuromag, ``CTF-275`` for CTF), EEG channels
    those of the layout MNE builds from the digitised positions (``make_eeg_layout``). Both are
    in layout units (about [0, 1], nose up), so subjects on different systems share one map.
    Channels missing from every layout are placed by an azimuthal projection of their 3-D
    positions.

    Parameters
    ----------
    info : mne.Info, TrialData or TrialData.info dict
    ch_names : list of str, optional
        Channels, in the order of the data (default: every MEG/EEG/SEEG/ECoG channel of
        ``info``, bad ones included: pass them as the mask instead).

    Returns
    -------
    pos : array, shape (n_channels, 2), float32
    kinds : array, shape (n_channels,), int64 (index into :data:`KINDS`)
    """
    import mne

    info = _find_info(info)
    if ch_names is None:
        picks = list(mne.pick_types(info, meg=True, eeg=True, seeg=True, ecog=True,
                                    exclude=[]))
    else:
        missing = [n for n in ch_names if n not in info["ch_names"]]
        if missing:
            raise DataError(f"channels {missing[:5]} are not in the measurement info")
        picks = [info["ch_names"].index(n) for n in ch_names]
    if not picks:
        raise DataError("no MEG/EEG/SEEG/ECoG channels in the measurement info")
    types = info.get_channel_types(picks=picks, unique=False)
    pos = np.zeros((len(picks), 2))
    groups = {"meg": [j for j, t in enumerate(types) if t in ("mag", "grad")],
              "eeg": [j for j, t in enumerate(types) if t == "eeg"],
              "other": [j for j, t in enumerate(types) if t not in ("mag", "grad", "eeg")]}
    for ch_type, rows in groups.items():
        if not rows:
            continue
        sub = [picks[j] for j in rows]
        found = _layout_positions(info, sub, ch_type) if ch_type != "other" else None
        pos[rows] = found if found is not None else _projected_positions(info, sub)
    kinds = np.array([_kind(t) for t in types], dtype=np.int64)
    return pos.astype(np.float32), kinds


# ----------------------------------------------------------------------------- config
@dataclass
class BrainModuleConfig:
    """Architecture of a :class:`BrainModule` (saved as JSON beside the weights).

    Paper sizes (Défossez et al. 2023): ``spatial_channels=270``, ``fourier_freqs=32``,
    ``hidden=320``, ``depth=5``, ``spatial_dropout=0.2``; the defaults here are smaller for
    CPUs.

    Parameters
    ----------
    n_features : dict
        Subject → number of input sensors (their order is the data's).
    n_times : int
        Samples per trial (needed by the affine temporal aggregation).
    heads : list of HeadConfig
        Regression (MSE) heads, one per target space.
    clip : list of str
        Target spaces that also get a contrastive head, named ``clip:<space>``.
    baseline_samples : int
        Leading samples (before stimulus onset) whose mean is subtracted per trial and sensor.
    """

    n_features: dict[str, int]
    n_times: int
    heads: list[HeadConfig]
    clip: list[str] = field(default_factory=list)
    spatial_channels: int = 64
    fourier_freqs: int = 8
    spatial_dropout: float = 0.1
    hidden: int = 64
    depth: int = 2
    kernel: int = 3
    glu_every: int = 2
    dropout: float = 0.0
    out_channels: int = 128
    aggregation: str = "affine"
    baseline_samples: int = 0
    clamp: float = 20.0

    #: For the shared trainer: no closed-form ridge part, a deep part to train.
    has_ridge = False
    has_deep = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BrainModuleConfig:
        d = dict(d)
        d["n_features"] = {str(k): int(v) for k, v in d["n_features"].items()}
        d["heads"] = [HeadConfig(**{**h, "shape": tuple(h["shape"])}) for h in d["heads"]]
        return cls(**d)


# ----------------------------------------------------------------------------- layers
class SubjectSensors(nn.Module):
    """One subject's sensors: layout positions, kinds, a validity mask (bad sensors False) and
    the robust-scaling statistics of its training trials (all buffers)."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("pos", torch.zeros(n, 2))
        self.register_buffer("kind", torch.zeros(n, dtype=torch.long))
        self.register_buffer("valid", torch.ones(n, dtype=torch.bool))
        self.register_buffer("center", torch.zeros(n))
        self.register_buffer("scale", torch.ones(n))


class FourierEmbedding(nn.Module):
    """``cos``/``sin`` of ``2π (k x + l y) / width`` for ``k, l < n_freqs``: ``2 n_freqs²``
    features per position (Défossez et al. 2023); ``width`` leaves a margin around [0, 1]."""

    def __init__(self, n_freqs: int, margin: float = 0.2):
        super().__init__()
        k = torch.arange(n_freqs, dtype=torch.float32)
        grid = torch.stack(torch.meshgrid(k, k, indexing="ij"), -1).reshape(-1, 2)
        self.register_buffer("freqs", grid * 2 * np.pi / (1 + 2 * margin))
        self.margin = margin

    @property
    def dim(self) -> int:
        return 2 * len(self.freqs)

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        phase = (pos + self.margin) @ self.freqs.T
        return torch.cat([torch.cos(phase), torch.sin(phase)], -1)


class SpatialAttention(nn.Module):
    """Virtual channels as softmax-weighted sums of the sensors, weights from positions."""

    def __init__(self, out_channels: int, n_freqs: int, dropout_radius: float):
        super().__init__()
        self.embed = FourierEmbedding(n_freqs)
        self.logits = nn.Linear(self.embed.dim, out_channels)
        self.kind = nn.Embedding(len(KINDS), out_channels)
        nn.init.zeros_(self.kind.weight)
        self.dropout_radius = dropout_radius

    def weights(self, pos: torch.Tensor, kind: torch.Tensor,
                valid: torch.Tensor) -> torch.Tensor:
        """Softmax weights ``(batch, out_channels, n_sensors)``; ``valid`` is (batch, n)."""
        logits = (self.logits(self.embed(pos)) + self.kind(kind)).T  # (out, n)
        logits = logits[None].expand(len(valid), -1, -1)
        if not bool(valid.any(1).all()):
            raise DataError("a trial has no valid sensor left (all masked)")
        return torch.softmax(logits.masked_fill(~valid[:, None, :], float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, kind: torch.Tensor,
                valid: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout_radius > 0:
            centre = torch.rand(len(x), 1, 2, device=x.device)
            near = (pos[None] - centre).norm(dim=-1) < self.dropout_radius
            kept = valid & ~near
            valid = torch.where(kept.any(1, keepdim=True), kept, valid)  # never drop all
        return torch.einsum("boc,bct->bot", self.weights(pos, kind, valid), x)


class ConvBlock(nn.Module):
    """Two residual dilated convolutions (BN, GELU), optionally followed by a GLU convolution."""

    def __init__(self, c_in: int, hidden: int, index: int, kernel: int, glu: bool,
                 dropout: float):
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for j, c in enumerate((c_in, hidden)):
            dilation = 2 ** ((2 * index + j) % 5)
            self.convs.append(nn.Conv1d(c, hidden, kernel, dilation=dilation,
                                        padding=dilation * (kernel - 1) // 2))
            self.norms.append(nn.BatchNorm1d(hidden))
        self.residual = [c_in == hidden, True]
        self.glu = nn.Conv1d(hidden, 2 * hidden, kernel, dilation=2,
                             padding=2 * (kernel - 1) // 2) if glu else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for conv, norm, res in zip(self.convs, self.norms, self.residual, strict=True):
            out = self.dropout(F.gelu(norm(conv(h))))
            h = h + out if res else out
        if self.glu is not None:
            h = F.glu(self.glu(h), dim=1)
        return h


class BrainModule(nn.Module):
    """Spatial attention → subject layer → dilated conv blocks → temporal aggregation → heads.

    ``forward(x, subject, mask=None)`` takes ``x`` of shape ``(batch, n_features[subject],
    n_times)`` in the recording's units and returns ``{"shared": (batch, out_channels),
    <space>: (batch, *shape), "clip:<space>": (batch, *shape)}``. ``mask`` (``(n_sensors,)``
    or ``(batch, n_sensors)``, True = usable) removes sensors on top of the subject's bad ones.
    """

    def __init__(self, cfg: BrainModuleConfig):
        super().__init__()
        self.cfg = cfg
        d1 = cfg.spatial_channels
        self.sensors = nn.ModuleDict()
        self.subject_layers = nn.ModuleDict()
        self.attention = SpatialAttention(d1, cfg.fourier_freqs, cfg.spatial_dropout)
        self.merge = nn.Conv1d(d1, d1, 1)
        for subject, n in dict(cfg.n_features).items():
            self.add_subject(subject, n)
        blocks, c = [], d1
        for k in range(cfg.depth):
            glu = cfg.glu_every > 0 and (k + 1) % cfg.glu_every == 0
            blocks.append(ConvBlock(c, cfg.hidden, k, cfg.kernel, glu, cfg.dropout))
            c = cfg.hidden
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.Conv1d(cfg.hidden, 2 * cfg.hidden, 1), nn.GELU(),
                                   nn.Conv1d(2 * cfg.hidden, cfg.out_channels, 1))
        if cfg.aggregation == "affine":
            self.temporal = nn.Linear(cfg.n_times, 1)
        elif cfg.aggregation != "mean":
            raise ValueError(f"aggregation must be 'affine' or 'mean', got {cfg.aggregation!r}")
        width = cfg.out_channels
        unknown = sorted(set(cfg.clip) - {h.target for h in cfg.heads})
        if unknown:
            raise ValueError(f"clip heads {unknown} have no regression head of the same space")
        self.heads = nn.ModuleDict()
        for h in cfg.heads:
            self.heads[h.target] = nn.Sequential(nn.LayerNorm(width), nn.GELU(),
                                                 build_head(width, h))
            if h.target in cfg.clip:
                clip = HeadConfig(target=h.target, shape=h.shape, kind="linear")
                self.heads[CLIP_PREFIX + h.target] = nn.Sequential(
                    nn.LayerNorm(width), nn.GELU(), build_head(width, clip))

    # ------------------------------------------------------------------ subjects
    def add_subject(self, subject: str, n_sensors: int, positions: np.ndarray | None = None,
                    kinds: np.ndarray | None = None, bad: np.ndarray | None = None) -> None:
        """Create (or replace) the sensors and subject layer of ``subject``."""
        subject = str(subject)
        d1 = self.cfg.spatial_channels
        self.sensors[subject] = SubjectSensors(int(n_sensors))
        layer = nn.Conv1d(d1, d1, 1, bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.eye(d1)[:, :, None])
        self.subject_layers[subject] = layer
        self.cfg.n_features[subject] = int(n_sensors)
        if positions is not None:
            self.set_sensors(subject, positions, kinds, bad)

    def set_sensors(self, subject: str, positions: np.ndarray, kinds: np.ndarray | None = None,
                    bad: np.ndarray | None = None) -> None:
        """Layout positions ``(n, 2)`` (see :func:`sensor_positions`), kinds and bad sensors
        (boolean ``(n,)``, True = bad) of ``subject``."""
        s = self._sensors(subject)
        n = len(s.pos)
        positions = np.asarray(positions, dtype=np.float32)
        if positions.shape != (n, 2):
            raise DataError(f"subject {subject}: expected positions of shape ({n}, 2), got "
                            f"{positions.shape}")
        s.pos.copy_(torch.from_numpy(positions))
        if kinds is not None:
            s.kind.copy_(torch.as_tensor(np.asarray(kinds), dtype=torch.long))
        if bad is not None:
            s.valid.copy_(~torch.as_tensor(np.asarray(bad, dtype=bool)))

    def _sensors(self, subject: str) -> SubjectSensors:
        subject = str(subject)
        if subject not in self.sensors:
            raise KeyError(f"no sensors for subject {subject!r}; known: {list(self.sensors)}")
        return self.sensors[subject]

    def _baseline(self, x: torch.Tensor) -> torch.Tensor:
        b = self.cfg.baseline_samples
        return x - x[..., :b].mean(-1, keepdim=True) if b > 0 else x

    def fit_scaler(self, subject: str, X: np.ndarray, max_trials: int = 500,
                   seed: int = 0) -> BrainModule:
        """Robust scaling statistics of ``subject`` from its *training* trials ``X``
        (n, n_sensors, n_times), after baseline correction (at most ``max_trials`` trials)."""
        from sklearn.preprocessing import RobustScaler

        s = self._sensors(subject)
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1] != len(s.pos):
            raise DataError(f"subject {subject}: expected trials (n, {len(s.pos)}, n_times), "
                            f"got {X.shape}")
        rows = np.random.default_rng(seed).permutation(len(X))[:max_trials]
        x = self._baseline(torch.from_numpy(np.asarray(X[np.sort(rows)], np.float64)))
        flat = x.permute(0, 2, 1).reshape(-1, X.shape[1]).numpy()
        scaler = RobustScaler().fit(flat)
        s.center.copy_(torch.from_numpy(scaler.center_))
        scale = np.asarray(scaler.scale_, dtype=np.float64)
        s.scale.copy_(torch.from_numpy(np.where(scale > 0, scale, 1.0)))
        return self

    # ------------------------------------------------------------------ forward
    def preprocess(self, x: torch.Tensor, subject: str) -> torch.Tensor:
        """Baseline-corrected, robust-scaled, clamped input; bad sensors (and NaNs) set to 0."""
        s = self._sensors(subject)
        if x.dim() != 3 or x.shape[1] != len(s.pos):
            raise DataError(f"subject {subject}: expected input (batch, {len(s.pos)}, "
                            f"n_times), got {tuple(x.shape)}")
        x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        x = self._baseline(x)
        x = ((x - s.center[:, None].to(x)) / s.scale[:, None].to(x)).clamp(-self.cfg.clamp,
                                                                           self.cfg.clamp)
        return x * s.valid[:, None].to(x)

    def embed(self, x: torch.Tensor, subject: str,
              mask: torch.Tensor | None = None) -> torch.Tensor:
        """Trials → aggregated features ``(batch, out_channels)``."""
        s = self._sensors(subject)
        x = self.preprocess(x, subject)
        valid = s.valid[None].expand(len(x), -1)
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=torch.bool, device=x.device)
            valid = valid & (mask if mask.dim() == 2 else mask[None])
        h = self.attention(x, s.pos, s.kind, valid)
        h = self.subject_layers[str(subject)](self.merge(h))
        h = self.final(self.blocks(h))
        if self.cfg.aggregation == "affine":
            if h.shape[-1] != self.cfg.n_times:
                raise DataError(f"expected {self.cfg.n_times} samples per trial, got "
                                f"{h.shape[-1]} (the affine aggregation fixes the window)")
            return self.temporal(h).squeeze(-1)
        return h.mean(-1)

    def forward(self, x: torch.Tensor, subject: str, mask: torch.Tensor | None = None,
                cycle_to: str | None = None) -> dict[str, torch.Tensor]:
        shared = self.embed(x, subject, mask)
        return {"shared": shared, **{k: head(shared) for k, head in self.heads.items()}}


def count_parameters(cfg: BrainModuleConfig) -> dict[str, int]:
    """Parameter counts per part (meta device: no memory used)."""
    with torch.device("meta"):
        model = BrainModule(copy.deepcopy(cfg))
    parts = {"spatial": [model.attention, model.merge], "subject_layers": [model.subject_layers],
             "convolutions": [model.blocks, model.final], "heads": [model.heads]}
    counts = {k: sum(p.numel() for m in ms for p in m.parameters()) for k, ms in parts.items()}
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
