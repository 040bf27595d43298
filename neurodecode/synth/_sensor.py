"""Signal building blocks shared by the synthetic sensor worlds (EEG, MEG, SEEG).

Everything takes a :class:`numpy.random.Generator`, so a world seeded once is reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from neurodecode.data.errors import DataError


def colored_noise(
    rng: np.random.Generator,
    n_signals: int,
    n_times: int,
    sfreq: float,
    exponent: float = 1.0,
    band: tuple[float, float] | None = None,
) -> np.ndarray:
    """Gaussian noise whose power spectrum falls as ``1 / f**exponent``, unit variance per row.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_signals, n_times : int
        Output shape.
    sfreq : float
        Sampling rate (Hz).
    exponent : float
        Spectral exponent: 0 white, 1 pink ("1/f"), 2 brown.
    band : (low, high) in Hz, optional
        Keep only these frequencies (an ideal band-pass), e.g. ``(8, 13)`` for alpha.

    Returns
    -------
    array, shape (n_signals, n_times)
    """
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    amplitude = np.zeros_like(freqs)
    positive = freqs > 0
    amplitude[positive] = freqs[positive] ** (-exponent / 2.0)
    if band is not None:
        amplitude[(freqs < band[0]) | (freqs > band[1])] = 0.0
    spectrum = rng.standard_normal((n_signals, freqs.size)) + 1j * rng.standard_normal(
        (n_signals, freqs.size)
    )
    x = np.fft.irfft(spectrum * amplitude, n=n_times, axis=1)
    return x / x.std(axis=1, keepdims=True)


def gaussian_pattern(pos: np.ndarray, center: np.ndarray, width: float) -> np.ndarray:
    """Spatial weights ``exp(-|pos - center|**2 / (2 width**2))`` over sensors.

    Parameters
    ----------
    pos : array, shape (n_sensors, n_dims)
        Sensor positions (metres, or layout units).
    center : array, shape (n_dims,)
    width : float
        Standard deviation, in the units of ``pos``.

    Returns
    -------
    array, shape (n_sensors,)
    """
    d2 = np.sum((np.asarray(pos) - np.asarray(center)) ** 2, axis=1)
    return np.exp(-d2 / (2.0 * width**2))


def evoked_kernel(times: np.ndarray, latency: float, width: float) -> np.ndarray:
    """A smooth transient response peaking at ``latency`` (s): a Gamma-shaped bump.

    ``h(t) = (t / latency)**k * exp(k * (1 - t / latency))`` for ``t > 0`` with the shape
    ``k = (latency / width)**2``, so the peak is 1 at ``latency`` and the rise/fall lasts about
    ``width`` seconds; zero before stimulus onset.

    Parameters
    ----------
    times : array, shape (n_times,)
        Seconds relative to stimulus onset.
    latency, width : float
        Peak time and spread (s).

    Returns
    -------
    array, shape (n_times,)
    """
    k = (latency / width) ** 2
    t = np.clip(np.asarray(times, dtype=float) / latency, 0.0, None)
    with np.errstate(divide="ignore"):
        out = np.where(t > 0, np.exp(k * (np.log(np.where(t > 0, t, 1.0)) + 1.0 - t)), 0.0)
    return out


def read_manifest(directory: Path, name: str) -> dict:
    """The ``world.json`` of a world folder written by ``write``, checked to be world ``name``."""
    manifest = Path(directory) / "world.json"
    if not manifest.is_file():
        raise DataError(
            f"{manifest}: not found; is {directory} a folder written by `neurodecode synth {name}`?"
        )
    content = json.loads(manifest.read_text())
    if content.get("name") != name:
        raise DataError(
            f"{manifest}: holds world {content.get('name')!r}, expected {name!r}; read it with "
            f"the matching world"
        )
    return content


def subject_rng(seed: int, subject: int) -> np.random.Generator:
    """The random stream of one subject: the same subject gets the same numbers whatever the
    number of subjects built."""
    return np.random.default_rng([int(seed), int(subject)])
