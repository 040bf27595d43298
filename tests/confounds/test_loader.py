"""The ABIDE-PCP style ROI time series loader (neurodecode.data.connectivity)."""

import numpy as np
import pandas as pd
import pytest

from neurodecode.confounds.connectivity import upper_triangle
from neurodecode.data.connectivity import load_roi_connectivity, read_roi_timeseries
from neurodecode.data.errors import DataError


def _write(tmp_path, n_rois=5, ids=("Pitt_0050003", "Pitt_0050004", "NYU_0051001"),
           header=True):
    rng = np.random.default_rng(1)
    series = {}
    for pid in ids:
        ts = rng.standard_normal((40, n_rois))
        series[pid] = ts
        head = "\t".join(f"#{2001 + r}" for r in range(n_rois)) if header else ""
        np.savetxt(tmp_path / f"{pid}_rois_cc200.1D", ts, delimiter="\t", header=head,
                   comments="", fmt="%.17g")
    pheno = pd.DataFrame(dict(SUB_ID=range(len(ids)), FILE_ID=list(ids),
                              AGE_AT_SCAN=[10.5, 22.0, 31.2], SEX=[1, 2, 1]))
    pheno.to_csv(tmp_path / "pheno.csv", index=False)
    return series, pheno


def test_loads_edges_and_demographics(tmp_path):
    series, pheno = _write(tmp_path)
    data = load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200")
    assert data.modality == "fc" and data.X.shape == (3, 10)
    for row, pid in enumerate(pheno.FILE_ID):
        expected = upper_triangle(np.corrcoef(series[pid], rowvar=False))
        np.testing.assert_allclose(data.X[row], expected, atol=1e-12)
    pd.testing.assert_frame_equal(data.metadata, pheno)
    assert data.info["roi_names"] == ["2001", "2002", "2003", "2004", "2005"]


def test_headerless_file_reads(tmp_path):
    series, _ = _write(tmp_path, header=False)
    names, ts = read_roi_timeseries(tmp_path / "Pitt_0050003_rois_cc200.1D")
    assert names is None
    np.testing.assert_array_equal(ts, series["Pitt_0050003"])


def test_missing_file_raises_or_skips(tmp_path):
    _write(tmp_path)
    (tmp_path / "Pitt_0050004_rois_cc200.1D").unlink()
    with pytest.raises(DataError, match="Pitt_0050004_rois_cc200.1D.*not found"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200")
    data = load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200",
                                 missing="skip")
    assert data.info["skipped"] == ["Pitt_0050004"]
    assert list(data.metadata.FILE_ID) == ["Pitt_0050003", "NYU_0051001"]


def test_wrong_roi_count_and_nans_are_reported(tmp_path):
    _write(tmp_path)
    bad = tmp_path / "NYU_0051001_rois_cc200.1D"
    np.savetxt(bad, np.ones((40, 4)), delimiter="\t")
    with pytest.raises(DataError, match="NYU_0051001.*4 ROIs, expected 5"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200")
    with pytest.raises(DataError, match="expected 6"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200", n_rois=6)
    ts = np.random.default_rng(0).standard_normal((40, 5))
    ts[7, 2] = np.nan
    np.savetxt(bad, ts, delimiter="\t")
    with pytest.raises(DataError, match=r"NYU_0051001_rois_cc200.1D: NaN.*\[7\]"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200")


def test_unknown_id_column(tmp_path):
    _write(tmp_path)
    with pytest.raises(DataError, match="no column 'participant'"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200",
                              id_column="participant")
