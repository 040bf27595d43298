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


def test_zero_variance_rois_zero_or_drop(tmp_path):
    series, _ = _write(tmp_path)
    ts = series["NYU_0051001"].copy()
    ts[:, 1] = 0.0
    np.savetxt(tmp_path / "NYU_0051001_rois_cc200.1D", ts, delimiter="\t",
               header="\t".join(f"#{2001 + r}" for r in range(5)), comments="", fmt="%.17g")
    with pytest.raises(DataError, match=r"NYU_0051001: ROIs \[1\] have zero variance.*"
                                        r"--zero-variance drop"):
        load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200")
    zero = load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200",
                                 zero_variance="zero")
    assert zero.X.shape == (3, 10) and np.all(zero.X[2, [0, 4, 5, 6]] == 0)  # ROI 2002
    drop = load_roi_connectivity(tmp_path, tmp_path / "pheno.csv", atlas="cc200",
                                 zero_variance="drop")
    assert drop.X.shape == (3, 6) and drop.info["dropped_rois"] == ["2002"]
    assert drop.info["roi_names"] == ["2001", "2003", "2004", "2005"]
    keep = [0, 2, 3, 4]
    expected = upper_triangle(np.corrcoef(series["Pitt_0050003"][:, keep], rowvar=False))
    np.testing.assert_allclose(drop.X[0], expected, atol=1e-12)


def test_ids_matching_no_file_and_duplicates_are_explained(tmp_path):
    _, pheno = _write(tmp_path)
    pheno.assign(FILE_ID=pheno.SUB_ID).to_csv(tmp_path / "sub.csv", index=False)
    with pytest.raises(DataError, match=r"has a file <id>_rois_cc200.1D.*--id-column"):
        load_roi_connectivity(tmp_path, tmp_path / "sub.csv", atlas="cc200")
    pheno.assign(FILE_ID=["Pitt_0050003"] * 3).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DataError, match=r"repeats ids \['Pitt_0050003'\]"):
        load_roi_connectivity(tmp_path, tmp_path / "dup.csv", atlas="cc200")


def test_declared_demographics_are_checked():
    from neurodecode.data.connectivity import check_demographics

    table = pd.DataFrame(dict(age=[10.0, None, 30.0, 41.0], sex=["F", "M", "M", ""],
                              site=[1, 2, 1, 2]))
    with pytest.raises(DataError, match=r"2 participants lack a value.*rows \[1, 3\]"):
        check_demographics(table, ["age"], ["sex"])
    keep = check_demographics(table, ["age"], ["sex", "site"], missing="skip")
    assert keep.tolist() == [True, False, True, False]
    with pytest.raises(DataError, match="3 levels for 3 participants"):
        check_demographics(table, [], ["age"], missing="skip")
    with pytest.raises(DataError, match="non-numeric values \\['F', 'M'\\]"):
        check_demographics(table, ["sex"], [], missing="skip")
