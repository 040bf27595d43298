"""Multi-target ridge regression with one penalty per target, chosen inside the training data.

The linear baseline of every decoder (Takagi & Nishimoto, CVPR 2023; Ozcelik & VanRullen
2023, Brain-Diffuser) and the workhorse of voxel-wise encoding models (Huth et al. 2016;
Dupré la Tour et al. 2022, *NeuroImage* 264:119728, the himalaya paper) is a ridge regression
fitted to thousands of targets at once, each target with its own penalty ``alpha`` picked by
cross-validation on the *training* data only. :class:`MultiRidgeCV` solves it in closed form
as himalaya's ``RidgeCV`` does (one decomposition per fold serves every penalty and target;
``local_alpha`` per target), in torch from the eigendecomposition of the smaller Gram matrix
(the main job fits 8 of these per run; himalaya's solver spent about as long again in its
per-batch bookkeeping as in its SVDs). It is tested against scikit-learn's grid search and
himalaya's ``RidgeCV`` (same penalties, same weights). It adds what both uses need:

- targets of any per-sample shape (``(n, 257, 768)`` tokens, ``(n, 3, 16, 16)`` pixels) are
  flattened to columns and reshaped back by :meth:`MultiRidgeCV.predict`;
- features are optionally standardised with statistics of the training samples (so one
  ``alpha`` grid suits raw betas, z-scored betas and MEG in tesla);
- ``cv`` is an int (contiguous, unshuffled K folds: *blocked* folds for time series), any
  scikit-learn splitter (``groups`` passed to :meth:`fit` reach it, e.g. ``GroupKFold`` by
  run), or an explicit list of ``(train_idx, test_idx)`` pairs;
- memory stays bounded for many targets: targets are solved in batches of
  ``n_targets_batch`` columns (by default as many as fit ``memory_mb`` for the
  ``n_alphas × n_samples × batch`` cross-validation predictions).

Example
-------
>>> import numpy as np
>>> from neurodecode.ridge import MultiRidgeCV
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(120, 50)); W = rng.normal(size=(50, 4, 3))
>>> Y = np.einsum("nf,fab->nab", X, W) + rng.normal(size=(120, 4, 3))
>>> model = MultiRidgeCV().fit(X, Y)
>>> model.predict(X[:2]).shape, model.best_alphas_.shape
((2, 4, 3), (12,))
"""

from __future__ import annotations

import numpy as np

from neurodecode.errors import DataError

#: Default penalty grid, for standardised features: 1e-2 … 1e6 (Huth-lab practice).
ALPHAS = np.logspace(-2, 6, 17)


class MultiRidgeCV:
    """Ridge regression of many targets, ``alpha`` per target by cross-validation.

    Parameters
    ----------
    alphas : array-like of float
        Candidate penalties (for standardised features when ``standardize=True``).
    cv : int, scikit-learn splitter or list of (train, test) index pairs
        How the training samples are split to choose ``alpha``; an int gives contiguous,
        unshuffled folds (blocked CV for time series).
    standardize : bool
        Z-score each feature with the training mean and s.d. before fitting.
    fit_intercept : bool
        Fit an unpenalised intercept per target (centring inside each fold).
    n_targets_batch : int, optional
        Targets solved together; by default chosen from ``memory_mb``.
    memory_mb : float
        Budget for the cross-validated predictions held at once when ``n_targets_batch`` is
        not given.
    dtype : {"float64", "float32"}
        Precision of the solver.

    Attributes
    ----------
    coef_ : array, shape (n_features, n_targets)
        Weights on the (standardised) features; ``n_targets`` = prod of the target shape.
    intercept_ : array, shape (n_targets,)
    best_alphas_ : array, shape (n_targets,)
        The penalty chosen for each target column.
    cv_scores_ : array, shape (n_targets,)
        Cross-validated score (mean over folds of the negative mean squared error) at the best
        alpha.
    target_shape_ : tuple
        Per-sample target shape, restored by :meth:`predict`.
    """

    def __init__(self, alphas=ALPHAS, cv=5, standardize: bool = True, fit_intercept: bool = True,
                 n_targets_batch: int | None = None, memory_mb: float = 512.0,
                 dtype: str = "float64"):
        self.alphas = alphas
        self.cv = cv
        self.standardize = standardize
        self.fit_intercept = fit_intercept
        self.n_targets_batch = n_targets_batch
        self.memory_mb = memory_mb
        self.dtype = dtype

    # scikit-learn conventions: parameters are the constructor's arguments.
    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in ("alphas", "cv", "standardize", "fit_intercept",
                                              "n_targets_batch", "memory_mb", "dtype")}

    def set_params(self, **params) -> MultiRidgeCV:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"MultiRidgeCV has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def _batch(self, n_samples: int, n_targets: int) -> int:
        if self.n_targets_batch:
            return int(self.n_targets_batch)
        per_target = 8.0 * n_samples * (len(np.atleast_1d(self.alphas)) + 2)
        return int(max(1, min(n_targets, self.memory_mb * 2**20 // per_target)))

    def fit(self, X, Y, groups=None) -> MultiRidgeCV:
        """Fit on training samples ``X`` (n, p) and targets ``Y`` (n, ...)."""
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if X.ndim != 2:
            raise DataError(f"ridge features must be (n_samples, n_features), got {X.shape}")
        if len(Y) != len(X):
            raise DataError(f"ridge: {len(X)} feature rows but {len(Y)} target rows")
        if len(X) < 3:
            raise DataError(f"ridge needs at least 3 training samples, got {len(X)}")
        self.target_shape_ = tuple(Y.shape[1:])
        Y = Y.reshape(len(Y), -1)
        self.mean_ = X.mean(0) if self.standardize else np.zeros(X.shape[1])
        scale = X.std(0) if self.standardize else np.ones(X.shape[1])
        tiny = 1e-12 * (np.abs(X).max(initial=0.0) + 1e-300)  # scale-free (MEG in tesla)
        self.scale_ = np.where(scale > tiny, scale, 1.0)
        Xs = (X - self.mean_) / self.scale_
        cv = self.cv
        if isinstance(cv, int):
            from sklearn.model_selection import KFold

            cv = list(KFold(min(cv, len(X))).split(Xs))
        elif hasattr(cv, "split"):
            cv = list(cv.split(Xs, Y, groups))
        else:
            cv = [(np.asarray(tr), np.asarray(te)) for tr, te in cv]
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        batch = self._batch(len(X), Y.shape[1])
        scores = np.zeros((len(alphas), Y.shape[1]))
        for train, test in cv:  # mean over folds of each fold's negative mean squared error
            scores -= _fold_errors(Xs[train], Y[train], Xs[test], Y[test], alphas, batch,
                                   self.dtype, self.fit_intercept) / len(cv)
        best = scores.argmax(0)  # ties: the first penalty of the grid
        self.best_alphas_ = alphas[best]
        self.cv_scores_ = scores[best, np.arange(Y.shape[1])]
        if self.fit_intercept:
            self.coef_, self.intercept_ = ridge_at(Xs, Y, self.best_alphas_, self.dtype)
        else:
            self.coef_ = _solve(Xs, Y, self.best_alphas_, self.dtype)
            self.intercept_ = np.zeros(Y.shape[1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions ``(n, *target_shape_)`` for samples ``X`` (n, p)."""
        if not hasattr(self, "coef_"):
            raise DataError("MultiRidgeCV.predict called before fit")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise DataError(f"ridge was fitted on {self.n_features_in_} features, got "
                            f"{X.shape}")
        out = ((X - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return out.reshape(len(X), *self.target_shape_)

    def score(self, X, Y) -> np.ndarray:
        """Coefficient of determination per target column (shape ``(n_targets,)``)."""
        Y = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
        P = self.predict(X).reshape(len(Y), -1)
        ss_res = ((Y - P) ** 2).sum(0)
        ss_tot = ((Y - Y.mean(0)) ** 2).sum(0)
        return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays by name (for safetensors); :meth:`from_state` restores them."""
        return {"coef": self.coef_, "intercept": self.intercept_, "mean": self.mean_,
                "scale": self.scale_, "best_alphas": self.best_alphas_,
                "target_shape": np.asarray(self.target_shape_, dtype=np.int64)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], **params) -> MultiRidgeCV:
        model = cls(**params)
        model.coef_ = np.asarray(state["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        model.mean_ = np.asarray(state["mean"], dtype=np.float64)
        model.scale_ = np.asarray(state["scale"], dtype=np.float64)
        model.best_alphas_ = np.asarray(state["best_alphas"], dtype=np.float64)
        model.target_shape_ = tuple(int(v) for v in np.asarray(state["target_shape"]))
        model.n_features_in_ = model.coef_.shape[0]
        return model


def _svd(X: np.ndarray, dtype: str):
    """Thin SVD ``U, s, Vt`` of ``X`` (torch, ``dtype``) from the eigendecomposition of the
    smaller Gram matrix (``X Xᵀ`` or ``Xᵀ X``, float64; in the main job's profile this took
    less than half the time of the SVD). Directions with s² below 1e-12 of the largest are
    dropped (rank deficiency)."""
    import torch

    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    wide = Xt.shape[0] <= Xt.shape[1]
    evals, vecs = torch.linalg.eigh(Xt @ Xt.T if wide else Xt.T @ Xt)
    keep = evals > evals.max().clamp(min=0) * 1e-12 if len(evals) else evals > 0
    s, vecs = evals[keep].sqrt(), vecs[:, keep]
    if wide:
        U, Vt = vecs, (vecs.T @ Xt) / s[:, None]
    else:
        U, Vt = (Xt @ vecs) / s[None], vecs.T
    kind = getattr(torch, np.dtype(dtype).name)
    return U.to(kind), s.to(kind), Vt.to(kind)


def _solve(X, Y, alphas, dtype: str) -> np.ndarray:
    """Ridge weights (n_features, n_targets) without intercept: ``V diag(s/(s²+α)) Uᵀ Y``,
    one penalty per target column."""
    import torch

    U, s, Vt = _svd(X, dtype)
    Yt = torch.as_tensor(np.asarray(Y), dtype=s.dtype).reshape(len(U), -1)
    a = torch.as_tensor(np.broadcast_to(np.asarray(alphas, np.float64), (Yt.shape[1],)).copy(),
                        dtype=s.dtype)
    return (Vt.T @ (s[:, None] / (s[:, None] ** 2 + a[None]) * (U.T @ Yt))).double().numpy()


def ridge_at(X, Y, alphas, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """Ridge with an unpenalised intercept at a given penalty per target column, no CV.

    One SVD of the centred features serves every target: ``coef = V diag(s / (s² + α_t))
    Uᵀ (Y - ȳ)`` column by column (torch, ``dtype``); the refit of :class:`MultiRidgeCV` and
    of decoders refitted at penalties already chosen.

    Parameters
    ----------
    X : array, shape (n_samples, n_features)
    Y : array, shape (n_samples, n_targets)
    alphas : float or array, shape (n_targets,)

    Returns
    -------
    coef : ndarray, shape (n_features, n_targets)
    intercept : ndarray, shape (n_targets,)
    """
    if len(X) < 2:
        raise DataError(f"ridge needs at least 2 training samples, got {len(X)}")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    x_mean, y_mean = X.mean(0), Y.mean(0)
    coef = _solve(X - x_mean, Y - y_mean, alphas, dtype)
    return coef, y_mean - x_mean @ coef


def _fold_errors(X_train, Y_train, X_test, Y_test, alphas, batch: int, dtype: str,
                 intercept: bool = True) -> np.ndarray:
    """Mean squared test error ``(n_alphas, n_targets)`` of ridge (with an intercept, i.e.
    centred on the training part, when ``intercept``) fitted on one fold's training part, for
    every penalty (one decomposition; targets in batches of ``batch``)."""
    import torch

    x_mean = X_train.mean(0) if intercept else np.zeros(X_train.shape[1])
    U, s, Vt = _svd(X_train - x_mean, dtype)
    proj = torch.as_tensor(X_test - x_mean, dtype=s.dtype) @ Vt.T  # (n_test, rank)
    a = torch.as_tensor(alphas, dtype=s.dtype)
    gain = s[None] / (s[None] ** 2 + a[:, None])  # (n_alphas, rank)
    out = np.empty((len(alphas), Y_train.shape[1]))
    for start in range(0, Y_train.shape[1], batch):
        cols = slice(start, start + batch)
        y_mean = Y_train[:, cols].mean(0) if intercept else np.zeros(Y_train[:, cols].shape[1])
        UtY = U.T @ torch.as_tensor(Y_train[:, cols] - y_mean, dtype=s.dtype)  # (rank, t)
        pred = torch.einsum("er,ar,rt->aet", proj, gain, UtY)  # (n_alphas, n_test, t)
        resid = pred - torch.as_tensor(Y_test[:, cols] - y_mean, dtype=s.dtype)[None]
        out[:, cols] = (resid ** 2).mean(1).double().numpy()
    return out


def ridge_path(X_train: np.ndarray, Y_train: np.ndarray, X_eval: np.ndarray,
               alphas, *, standardize: bool = True,
               device: str = "cpu") -> np.ndarray:
    """Ridge predictions of ``X_eval`` for every penalty: ``(n_alphas, n_eval, n_targets)``.

    For choosing ``alpha`` per target on a separate validation split (encoding models,
    :func:`neurodecode.encoding.fit_encoding`). One SVD of the (standardised, centred)
    training features serves every penalty and target (intercept unpenalised):
    ``ŷ = ȳ + X_eval V diag(s / (s² + α)) Uᵀ (Y - ȳ)``. Runs in torch on ``device`` (float64
    on CPU, float32 on GPU).
    """
    import torch

    dtype = torch.float64 if torch.device(device).type == "cpu" else torch.float32
    Xt = torch.as_tensor(np.asarray(X_train), dtype=dtype, device=device)
    Xe = torch.as_tensor(np.asarray(X_eval), dtype=dtype, device=device)
    Yt = torch.as_tensor(np.asarray(Y_train), dtype=dtype, device=device)
    mean = Xt.mean(0)
    scale = Xt.std(0, unbiased=False) if standardize else torch.ones_like(mean)
    scale = torch.where(scale > 1e-12 * (scale.max() + 1e-300), scale, torch.ones_like(scale))
    Xt, Xe = (Xt - mean) / scale, (Xe - mean) / scale
    y_bar = Yt.mean(0)
    U, s, Vt = torch.linalg.svd(Xt, full_matrices=False)
    keep = s > s.max() * 1e-10
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    UtY = U.T @ (Yt - y_bar)  # (r, t)
    proj = Xe @ Vt.T  # (n_eval, r)
    a = torch.as_tensor(np.asarray(alphas, dtype=np.float64), dtype=dtype, device=device)
    gain = s[None] / (s[None] ** 2 + a[:, None])  # (n_alphas, r)
    out = torch.einsum("er,ar,rt->aet", proj, gain, UtY) + y_bar
    return out.cpu().numpy().astype(np.float64)
