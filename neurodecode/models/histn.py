"""HiSTN: a ~1,000-parameter hierarchical spatio-temporal graph network for EEG emotion.

HiSTN (a compact hierarchical graph network for DREAMER valence/arousal ratings; facts in
``../shared/ANCHORS.md`` section 4) reads a 1-s EEG window in three levels:

1. **stem** (EEGNet-like; Lawhern et al. 2018, J. Neural Eng. 15:056013): a temporal
   convolution of ``n_filters`` filters of ``kernel_length`` taps shared by all channels,
   batch norm, then power pooling over the window (mean square, log; the pooling of
   ShallowFBCSPNet, Schirrmeister et al. 2017, Hum. Brain Mapp. 38:5391) and dropout. Every
   channel becomes a graph node carrying ``n_filters`` log band powers.
2. **channel → region**: channels are grouped into ``n_regions`` scalp regions (from the
   channels' positions, or given). Chebyshev graph convolutions (Defferrard et al. 2016,
   NeurIPS) with ``node_hops`` hops pass messages between the channels of a region
   (residual, ELU); a learned attention weight per channel (softmax within its region) fuses
   the channels of each region into one region node.
3. **region → graph**: Chebyshev convolutions with ``region_hops`` hops on the region graph
   (residual, ELU), then graph-level readout: the region features, concatenated in a fixed
   order so left and right stay distinguishable (frontal asymmetry carries valence), feed a
   linear layer with ``n_outputs`` logits.

With 14 channels, 5 classes and the defaults this is 1,043 trainable parameters.

:class:`HiSTN` follows braindecode's model signature (``n_chans``, ``n_outputs``,
``n_times``, ``sfreq``, ``chs_info``; it subclasses braindecode's ``EEGModuleMixin``), so
braindecode's ``EEGClassifier`` trains it like EEGNet or ShallowFBCSPNet.
:class:`HiSTNClassifier` is that ``EEGClassifier`` with HiSTN, ordinal Gaussian label
smoothing (:class:`OrdinalSmoothingLoss`) and small-data defaults.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from neurodecode.errors import DataError
from neurodecode.models._braindecode import ensure_braindecode

ensure_braindecode()

from braindecode import EEGClassifier  # noqa: E402
from braindecode.models.base import EEGModuleMixin  # noqa: E402

# --------------------------------------------------------------------------- graph helpers


def channel_positions(chs_info=None, ch_names=None) -> np.ndarray | None:
    """3-D sensor positions ``(n_chans, 3)`` in metres, or ``None`` when unknown.

    From ``chs_info`` (MNE's ``info["chs"]``: ``loc[:3]``), else from ``ch_names`` looked up
    in MNE's standard 10-05 montage. Any channel without a finite, non-zero position makes
    the result ``None``.
    """
    if chs_info is not None:
        pos = np.array([np.asarray(ch["loc"][:3], dtype=float) for ch in chs_info])
    elif ch_names is not None:
        import mne

        builtin = mne.channels.get_builtin_montages()
        montage = mne.channels.make_standard_montage(
            "colin27_1005" if "colin27_1005" in builtin else "standard_1005"
        )
        table = {k.lower(): v for k, v in montage.get_positions()["ch_pos"].items()}
        names = [str(n).strip(".").lower() for n in ch_names]
        if not all(n in table for n in names):
            return None
        pos = np.array([table[n] for n in names])
    else:
        return None
    if not np.all(np.isfinite(pos)) or np.any(np.linalg.norm(pos, axis=1) == 0):
        return None
    return pos


def assign_regions(n_chans: int, n_regions: int = 4, positions: np.ndarray | None = None):
    """Region index of each channel, ``(n_chans,)`` ints in ``0..n_regions-1``.

    With positions and 4 regions: scalp quadrants, left/right by the sign of ``x`` (midline
    to the right) and anterior/posterior by ``y`` against the channels' mean ``y`` (for the
    Emotiv EPOC: left/right frontal = AF3 F7 F3 FC5 / AF4 F8 F4 FC6, left/right posterior =
    T7 P7 O1 / T8 P8 O2). With positions otherwise (or when a quadrant is empty): k-means of
    the positions (seeded). Without positions: ``n_regions`` contiguous blocks of channel
    order (for the Emotiv order, which goes round the head, nearly the quadrants).
    """
    if not 1 <= n_regions <= n_chans:
        raise DataError(f"n_regions must be between 1 and n_chans={n_chans}, got {n_regions}")
    if positions is None:
        return np.concatenate(
            [np.full(len(b), r) for r, b in enumerate(np.array_split(np.arange(n_chans), n_regions))]
        )
    positions = np.asarray(positions, dtype=float)
    if n_regions == 4:
        right = positions[:, 0] >= 0
        front = positions[:, 1] > positions[:, 1].mean()
        region = np.where(front, 0, 2) + right.astype(int)
        if len(np.unique(region)) == 4:
            return region
    from sklearn.cluster import KMeans

    labels = KMeans(n_regions, n_init=10, random_state=0).fit_predict(positions)
    # order regions by their centroid (front to back, then left to right) for stable output
    cent = np.array([positions[labels == r].mean(0) for r in range(n_regions)])
    order = np.lexsort((cent[:, 0], -cent[:, 1]))
    return np.argsort(order)[labels]


def _gaussian_adjacency(positions: np.ndarray | None, groups: np.ndarray) -> np.ndarray:
    """Weighted adjacency: nodes linked only within the same group, weight
    ``exp(-d² / 2 s²)`` with ``s`` the median linked distance (1 without positions)."""
    n = len(groups)
    same = (groups[:, None] == groups[None, :]) & ~np.eye(n, dtype=bool)
    if positions is None:
        return same.astype(float)
    d = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    scale = np.median(d[same]) if same.any() else 1.0
    return np.where(same, np.exp(-(d**2) / (2 * scale**2)), 0.0)


def chebyshev_basis(adjacency: np.ndarray, order: int) -> np.ndarray:
    """Chebyshev polynomials ``T_0..T_order`` of the rescaled normalised graph Laplacian.

    ``L = I - D^{-1/2} A D^{-1/2}``, rescaled with ``λ_max = 2`` (as ChebNet does) to
    ``L~ = L - I``; ``T_0 = I``, ``T_1 = L~``, ``T_k = 2 L~ T_{k-1} - T_{k-2}``. ``T_k``
    mixes nodes up to ``k`` hops apart. Isolated nodes only keep their own features.

    Returns
    -------
    ndarray of shape (order + 1, n, n)
    """
    a = np.asarray(adjacency, dtype=float)
    deg = a.sum(1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    scaled = -(inv[:, None] * a * inv[None, :])
    basis = [np.eye(len(a))]
    if order >= 1:
        basis.append(scaled)
    for _ in range(2, order + 1):
        basis.append(2 * scaled @ basis[-1] - basis[-2])
    return np.stack(basis)


class ChebConv(nn.Module):
    """Chebyshev graph convolution on a fixed graph: ``sum_k T_k X W_k + b``.

    ``X`` is ``(batch, n_nodes, in_features)``; ``basis`` the ``(K, n_nodes, n_nodes)``
    output of :func:`chebyshev_basis`.
    """

    def __init__(self, basis: np.ndarray, in_features: int, out_features: int) -> None:
        super().__init__()
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32))
        k = self.basis.shape[0]
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        nn.init.xavier_uniform_(self.weight.view(k * in_features, out_features))
        with torch.no_grad():
            self.weight /= np.sqrt(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("knm,bmf,kfg->bng", self.basis, x, self.weight) + self.bias


# --------------------------------------------------------------------------- the model


class HiSTN(EEGModuleMixin, nn.Module):
    """Hierarchical spatio-temporal graph network (see the module docstring).

    Parameters
    ----------
    n_chans, n_outputs, n_times, chs_info, input_window_seconds, sfreq, add_log_softmax
        braindecode's signal parameters (``EEGModuleMixin``). ``chs_info`` (MNE
        ``info["chs"]``) gives the channel positions used for regions and edge weights.
    ch_names : list of str, optional
        Channel names looked up in MNE's standard 10-05 montage when ``chs_info`` is absent.
    regions : sequence, optional
        The grouping, overriding positions: one region index per channel, or a list of
        regions, each a list of channel indices (or names, with ``ch_names``/``chs_info``).
    n_regions : int
        Regions derived when ``regions`` is not given (default 4).
    n_filters : int
        Temporal filters of the stem, also the node and region feature size (default 8).
    kernel_length : int
        Taps of the temporal filters (default 64: 0.5 s at 128 Hz).
    node_hops, region_hops : int
        Chebyshev order of the channel-level (default 2) and region-level (default 1)
        message passing.
    drop_prob : float
        Dropout after the stem and before the readout.

    Input ``(batch, n_chans, n_times)`` in µV or standardised (not volts: the stem's batch
    norm, eps 1e-5, would swamp a variance of ~1e-10 V²); output ``(batch, n_outputs)``
    logits (log-softmax when ``add_log_softmax``).
    """

    def __init__(
        self,
        n_chans=None,
        n_outputs=None,
        n_times=None,
        chs_info=None,
        input_window_seconds=None,
        sfreq=None,
        add_log_softmax=False,
        ch_names=None,
        regions=None,
        n_regions: int = 4,
        n_filters: int = 8,
        kernel_length: int = 64,
        node_hops: int = 2,
        region_hops: int = 1,
        drop_prob: float = 0.25,
    ) -> None:
        super().__init__(
            n_outputs=n_outputs, n_chans=n_chans, chs_info=chs_info, n_times=n_times,
            input_window_seconds=input_window_seconds, sfreq=sfreq,
            add_log_softmax=add_log_softmax,
        )  # fmt: skip
        del n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq
        n = self.n_chans
        names = (
            [ch["ch_name"] for ch in self._chs_info] if self._chs_info is not None else ch_names
        )
        if names is not None and len(names) != n:
            raise DataError(f"HiSTN: {len(names)} channel names for n_chans={n}")
        positions = channel_positions(self._chs_info, ch_names)
        region = self._region_index(regions, n, n_regions, positions, names)
        self.n_regions = int(region.max()) + 1
        self.register_buffer("region_index", torch.as_tensor(region, dtype=torch.long))

        left = (kernel_length - 1) // 2  # "same" length, without torch's even-kernel copy
        self.pad = nn.ZeroPad2d((left, kernel_length - 1 - left, 0, 0))
        self.temporal = nn.Conv2d(1, n_filters, (1, kernel_length), bias=False)
        self.bn = nn.BatchNorm2d(n_filters)
        self.drop_stem = nn.Dropout(drop_prob)
        node_basis = chebyshev_basis(_gaussian_adjacency(positions, region), node_hops)
        self.node_conv = ChebConv(node_basis, n_filters, n_filters)
        self.channel_score = nn.Parameter(torch.zeros(n))
        centroids = (
            None
            if positions is None
            else np.array([positions[region == r].mean(0) for r in range(self.n_regions)])
        )
        region_adj = _gaussian_adjacency(centroids, np.zeros(self.n_regions, dtype=int))
        self.region_conv = ChebConv(chebyshev_basis(region_adj, region_hops), n_filters, n_filters)
        self.drop_head = nn.Dropout(drop_prob)
        self.final_layer = nn.Linear(self.n_regions * n_filters, self.n_outputs)
        self.log_softmax = nn.LogSoftmax(dim=1) if add_log_softmax else nn.Identity()

    @staticmethod
    def _region_index(regions, n, n_regions, positions, names) -> np.ndarray:
        if regions is None:
            return assign_regions(n, n_regions, positions)
        regions = list(regions)
        if len(regions) == n and all(np.isscalar(r) for r in regions):
            index = np.asarray(regions, dtype=int)
        else:
            index = np.full(n, -1)
            for r, members in enumerate(regions):
                for m in members:
                    i = names.index(m) if isinstance(m, str) and names is not None else m
                    if not isinstance(i, int | np.integer) or not 0 <= i < n:
                        raise DataError(f"HiSTN regions: unknown channel {m!r}")
                    index[i] = r
            if np.any(index < 0):
                raise DataError(
                    f"HiSTN regions: channels {np.flatnonzero(index < 0).tolist()} are in no region"
                )
        if index.min() < 0 or sorted(set(index.tolist())) != list(range(index.max() + 1)):
            raise DataError(f"HiSTN regions must be numbered 0..R-1 without gaps, got {index}")
        return index

    def node_features(self, x: torch.Tensor) -> torch.Tensor:
        """The stem: ``(batch, n_chans, n_times)`` -> log band powers ``(batch, n_chans, F)``."""
        h = self.bn(self.temporal(self.pad(x.unsqueeze(1))))
        h = torch.log(h.pow(2).mean(dim=-1) + 1e-6)
        return self.drop_stem(h.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.node_features(x)
        h = h + nn.functional.elu(self.node_conv(h))
        member = nn.functional.one_hot(self.region_index, self.n_regions).T.to(h.dtype)
        score = self.channel_score.exp() * member  # (R, C): softmax within each region
        weights = score / score.sum(1, keepdim=True)
        r = torch.einsum("rc,bcf->brf", weights, h)
        r = r + nn.functional.elu(self.region_conv(r))
        out = self.final_layer(self.drop_head(r.flatten(1)))
        return self.log_softmax(out)


# --------------------------------------------------------------------------- loss, classifier


class OrdinalSmoothingLoss(nn.CrossEntropyLoss):
    """Cross-entropy against ordinal Gaussian-smoothed targets, or plain one-hot targets.

    ``smoothing="ordinal"``: the target of a sample of class ``y`` is
    ``t_k ∝ exp(-(k - y)² / (2 σ²))`` over class indices ``k`` (classes must be consecutive
    ratings; :func:`neurodecode.metrics.ordinal.ordinal_targets` computes the same targets).
    ``smoothing="onehot"``: ordinary cross-entropy on the class index, no smoothing at all
    (HiSTN's published Keras script trained on smoothed labels in its one-hot mode).
    Subclassing ``CrossEntropyLoss`` makes skorch apply a softmax in ``predict_proba``.
    """

    def __init__(self, smoothing: str = "ordinal", sigma: float = 0.5) -> None:
        super().__init__()
        if smoothing not in ("ordinal", "onehot"):
            raise DataError(f"smoothing must be 'ordinal' or 'onehot', got {smoothing!r}")
        if smoothing == "ordinal" and not sigma > 0:
            raise DataError(f"ordinal smoothing needs sigma > 0, got {sigma}")
        self.smoothing = smoothing
        self.sigma = float(sigma)

    def targets(self, y: torch.Tensor, n_classes: int) -> torch.Tensor:
        """The ``(n, n_classes)`` target distribution of integer classes ``y``."""
        if self.smoothing == "onehot":
            return nn.functional.one_hot(y.long(), n_classes).float()
        k = torch.arange(n_classes, device=y.device, dtype=torch.float32)
        return torch.softmax(-((k[None] - y.float()[:, None]) ** 2) / (2 * self.sigma**2), 1)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # noqa: A002
        if self.smoothing == "onehot":
            return super().forward(input, target.long())
        return super().forward(input, self.targets(target, input.shape[1]))


class HiSTNClassifier(EEGClassifier):
    """braindecode's ``EEGClassifier`` (skorch) training :class:`HiSTN` with ordinal smoothing.

    Parameters
    ----------
    module : nn.Module class
        Default :class:`HiSTN`; its parameters go as ``module__<name>`` (e.g.
        ``module__n_filters``); ``n_chans``, ``n_times`` and ``n_outputs`` come from the data.
    smoothing : {"ordinal", "onehot"}
        Training targets (see :class:`OrdinalSmoothingLoss`).
    sigma : float
        Width of the ordinal smoothing in rating steps (default 0.5, HiSTN's).
    random_state : int, optional
        Seeds torch before the weights are initialised and the batches shuffled.
    max_epochs, lr, batch_size, optimizer, optimizer__weight_decay, train_split
        skorch's; defaults suit a few hundred 1-s windows (no internal validation split,
        the last incomplete batch kept).

    ``predict`` returns the labels seen in ``fit`` (not column indices), ``predict_proba``
    softmax probabilities in the order of ``classes_``. Classes are smoothed in sorted
    order, so labels should be consecutive ratings.
    """

    def __init__(
        self,
        module=HiSTN,
        *args,
        smoothing: str = "ordinal",
        sigma: float = 0.5,
        random_state: int | None = None,
        criterion=OrdinalSmoothingLoss,
        max_epochs: int = 60,
        lr: float = 0.01,
        batch_size: int = 32,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay: float = 1e-3,
        train_split=None,
        iterator_train__drop_last: bool = False,
        verbose: int = 0,
        **kwargs,
    ) -> None:
        self.smoothing = smoothing
        self.sigma = sigma
        self.random_state = random_state
        super().__init__(
            module, *args, criterion=criterion, max_epochs=max_epochs, lr=lr,
            batch_size=batch_size, optimizer=optimizer,
            optimizer__weight_decay=optimizer__weight_decay, train_split=train_split,
            iterator_train__drop_last=iterator_train__drop_last, verbose=verbose, **kwargs,
        )  # fmt: skip

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix == "criterion" and self.criterion is OrdinalSmoothingLoss:
            params = {"smoothing": self.smoothing, "sigma": self.sigma, **params}
        return params

    def fit(self, X, y=None, **fit_params):
        if y is None:
            raise DataError("HiSTNClassifier.fit needs labels y")
        y = np.asarray(y)
        scale = float(np.std(X)) if np.size(X) else 1.0
        if scale < 1e-3:
            warnings.warn(
                f"HiSTNClassifier: input standard deviation {scale:.2g} looks like volts; the "
                "stem's batch norm (eps 1e-5) will swamp it. Give µV (x 1e6) or standardise "
                "first (mne.decoding.Scaler, as pipelines/HiSTN.yml does)",
                UserWarning,
                stacklevel=2,
            )
        self.labels_, codes = np.unique(y, return_inverse=True)
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        return super().fit(np.asarray(X, dtype=np.float32), codes.astype(np.int64), **fit_params)

    def predict_proba(self, X):
        return super().predict_proba(np.asarray(X, dtype=np.float32))

    def predict(self, X):
        return self.labels_[self.predict_proba(X).argmax(1)]

    @property
    def classes_(self):
        return self.labels_
