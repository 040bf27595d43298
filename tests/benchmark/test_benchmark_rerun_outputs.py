"""What a rerun leaves alone: unchanged outputs are not rewritten, pipelines with stored
results are not built, nothing is imported or loaded that the answer does not need."""

import json
import subprocess
import sys
import textwrap

import pytest

import neurodecode.benchmark.pipelines as pipelines_module
import neurodecode.benchmark.runner as runner
from neurodecode.benchmark import load_pipeline, run_benchmark
from neurodecode.data.errors import DataError
from neurodecode.synth import motor_imagery


def _run(out, files, small_mi, **kwargs):
    kwargs = {"subjects": [1], "quiet": True, "events": ["left_hand", "right_hand"], **kwargs}
    return run_benchmark(files, "synthetic-mi", out, dataset_params=small_mi, **kwargs)


def _stamp(path):
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size  # a rewrite (temporary file + rename) changes the inode


def test_rerun_rewrites_nothing_builds_nothing_loads_nothing(tmp_path, pipelines_dir, small_mi,
                                                              monkeypatch):  # fmt: skip
    files = [pipelines_dir / "CSP_LDA.yml"]
    first = _run(tmp_path, files, small_mi)
    outputs = ["results.csv", "scores.png", "time_vs_score.png"]
    before = {name: _stamp(tmp_path / name) for name in outputs}

    def refuse(*args, **kwargs):
        raise AssertionError("called on a rerun")

    monkeypatch.setattr(pipelines_module, "_build_step", refuse)  # no estimator is built
    monkeypatch.setattr(motor_imagery, "make", refuse)  # no data generated
    monkeypatch.setattr(runner, "save_plots", refuse)  # no figure drawn
    second = _run(tmp_path, files, small_mi)
    assert second.attrs["n_computed"] == 0 and second.attrs["loaded_subjects"] == []
    assert {name: _stamp(tmp_path / name) for name in outputs} == before
    assert second["score"].tolist() == first["score"].tolist()


def test_only_figures_whose_inputs_changed_are_redrawn(tmp_path, pipelines_dir, small_mi):
    files = [pipelines_dir / "CSP_LDA.yml"]
    first = _run(tmp_path, files, small_mi)
    scores, timing = tmp_path / "scores.png", tmp_path / "time_vs_score.png"
    before = _stamp(scores), _stamp(timing)
    # recomputed: the seeded scores are equal, the measured fit times are not
    again = _run(tmp_path, files, small_mi, overwrite=True)
    assert again["score"].tolist() == first["score"].tolist()
    assert again["fit_time"].tolist() != first["fit_time"].tolist()
    assert _stamp(scores) == before[0]  # its inputs (scores) did not change
    assert _stamp(timing) != before[1]  # fit times moved its points

    timing.unlink()  # a missing figure is drawn again, the other is left alone
    _run(tmp_path, files, small_mi)
    assert timing.is_file() and _stamp(scores) == before[0]


def test_stale_figures_from_another_benchmark_are_redrawn(tmp_path, pipelines_dir, small_mi):
    # results.csv is rewritten by a run without figures; the figures on disk then belong to
    # other results and must not be kept by the next run that draws
    _run(tmp_path, [pipelines_dir / "CSP_LDA.yml"], small_mi)
    old = _stamp(tmp_path / "scores.png")
    _run(tmp_path, [pipelines_dir / "MDM.yml"], small_mi, plots=False)
    assert _stamp(tmp_path / "scores.png") == old  # plots=False: left as it was
    _run(tmp_path, [pipelines_dir / "MDM.yml"], small_mi)
    assert _stamp(tmp_path / "scores.png") != old
    memo = json.loads((tmp_path / ".outputs.json").read_text())
    assert set(memo) == {"results.csv", "scores.png", "time_vs_score.png", "figures_from"}


def test_a_touched_results_csv_is_written_again(tmp_path, pipelines_dir, small_mi):
    files = [pipelines_dir / "CSP_LDA.yml"]
    _run(tmp_path, files, small_mi, plots=False)
    csv = tmp_path / "results.csv"
    text = csv.read_text()
    csv.write_text("edited by hand\n")
    _run(tmp_path, files, small_mi, plots=False)
    assert csv.read_text() == text


def test_a_fresh_process_rerun_imports_no_estimator_library(tmp_path, pipelines_dir, small_mi):
    files = [str(pipelines_dir / "TS_LR.yml"), str(pipelines_dir / "CSP_LDA.yml")]
    _run(tmp_path, files, small_mi)
    code = textwrap.dedent(f"""
        import sys
        from neurodecode.benchmark import run_benchmark
        res = run_benchmark({files!r}, "synthetic-mi", {str(tmp_path)!r}, subjects=[1],
                            events=["left_hand", "right_hand"], dataset_params={small_mi!r},
                            quiet=True)
        assert res.attrs["n_computed"] == 0, res.attrs
        print(sorted(m for m in ("sklearn", "pyriemann", "torch", "moabb", "matplotlib")
                     if m in sys.modules))
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_pipeline_with_work_is_still_checked_before_any_data(tmp_path, pipelines_dir, small_mi,
                                                               monkeypatch):  # fmt: skip
    bad = tmp_path / "bad.yml"
    bad.write_text((pipelines_dir / "CSP_LDA.yml").read_text().replace("nfilter: 6",
                                                                       "nfilters: 6"))
    spec = load_pipeline(bad, build=False)  # parsed, not built: the typo is not seen yet
    assert spec.pipeline is None and spec.name == "CSP+LDA"

    def refuse(*args, **kwargs):
        raise AssertionError("data generated before the pipeline was checked")

    monkeypatch.setattr(motor_imagery, "make", refuse)
    with pytest.raises(DataError, match=r"bad\.yml:\d+: CSP has no parameter\(s\) \['nfilters'\]"):
        _run(tmp_path / "out", [bad], small_mi)


def test_moabb_dataset_objects_are_keyed_by_their_description(tmp_path, pipelines_dir,
                                                              monkeypatch):  # fmt: skip
    pytest.importorskip("moabb")
    from moabb.datasets.fake import FakeDataset

    def fake(seed):
        return FakeDataset(event_list=("left_hand", "right_hand"), n_subjects=1, n_sessions=1,
                           n_runs=1, n_events=40, duration=130, seed=seed)  # fmt: skip

    files = [pipelines_dir / "CSP_LDA.yml"]
    kwargs = {"paradigm": "LeftRightImagery", "quiet": True, "plots": False}
    first = run_benchmark(files, fake(1), tmp_path, **kwargs)
    assert first.attrs["n_computed"] == 1 and len(first) == 5
    assert (first["dataset"] == fake(1).code).all()
    # an equal object (new instance, same seed): found in the store, nothing loaded
    again = run_benchmark(files, fake(1), tmp_path, **kwargs)
    assert again.attrs["n_computed"] == 0 and again.attrs["loaded_subjects"] == []
    # another seed generates other recordings: another key, computed
    other = run_benchmark(files, fake(2), tmp_path, **kwargs)
    assert other.attrs["n_computed"] == 1
    with pytest.raises(DataError, match="MOABB dataset object"):
        run_benchmark(files, object(), tmp_path, **kwargs)


def test_fold_scores_equal_scikit_learns_scorers():
    import numpy as np
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import get_scorer, roc_auc_score
    from sklearn.naive_bayes import GaussianNB

    from neurodecode.benchmark.evaluation import Scorer, roc_auc

    rng = np.random.default_rng(0)
    for n in (6, 10, 31):
        y = np.arange(n) % 2
        rng.shuffle(y)
        for s in (rng.standard_normal(n), np.round(rng.standard_normal(n)), y * 0.0):
            assert abs(roc_auc(y, s) - roc_auc_score(y, s)) < 1e-12  # ties: mid-ranks
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.2, 0.4])) == 0.75
    X = rng.standard_normal((60, 4)) + np.repeat([[0.0], [0.7]], 30, axis=0)
    y = np.repeat([0, 1], 30)
    y3 = np.arange(60) % 3
    for est in (LinearDiscriminantAnalysis(), GaussianNB()):  # decision_function / proba only
        fitted = est.fit(X[::2], y[::2])
        for metric in ("roc_auc", "accuracy"):
            ours = Scorer(metric)(fitted, X[1::2], y[1::2])
            assert abs(ours - get_scorer(metric)(fitted, X[1::2], y[1::2])) < 1e-12
        fitted3 = est.fit(X[::2], y3[::2])  # other metrics go through scikit-learn
        assert Scorer("balanced_accuracy")(fitted3, X[1::2], y3[1::2]) == get_scorer(
            "balanced_accuracy")(fitted3, X[1::2], y3[1::2])  # fmt: skip
    with pytest.raises(ValueError, match="Only one class"):
        roc_auc(np.zeros(4), np.arange(4.0))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc(np.array([0, 1]), np.array([0.0, np.nan]))


def test_a_pipeline_file_is_read_again_when_it_changes(tmp_path, pipelines_dir):
    path = tmp_path / "p.yml"
    path.write_text((pipelines_dir / "CSP_LDA.yml").read_text())
    first = load_pipeline(path, build=False)
    first.config["name"] = "mutated by the caller"  # the memo hands out copies
    assert load_pipeline(path, build=False).name == "CSP+LDA"
    path.write_text(path.read_text().replace("name: CSP+LDA", "name: CSP+LDA (edited)"))
    assert load_pipeline(path, build=False).name == "CSP+LDA (edited)"


def test_a_moabb_dataset_rerun_by_code_imports_no_moabb(tmp_path, pipelines_dir, monkeypatch):
    pytest.importorskip("moabb")
    import shutil

    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    (tmp_path / "mne_data").mkdir()  # FakeDataset generates its recordings: nothing to fetch
    files = [str(pipelines_dir / "CSP_LDA.yml")]
    kwargs = {"subjects": [1], "paradigm": "MotorImagery", "events": ["fake1", "fake2"],
              "quiet": True, "plots": False}  # fmt: skip
    out = tmp_path / "out"
    first = run_benchmark(files, "FakeDataset", out, **kwargs)
    code = textwrap.dedent(f"""
        import sys
        from neurodecode.benchmark import run_benchmark
        res = run_benchmark({files!r}, "FakeDataset", {str(out)!r}, **{kwargs!r})
        assert res.attrs["n_computed"] == 0, res.attrs
        print("moabb" in sys.modules, res["score"].round(12).tolist())
    """)  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(" ", 1) == ["False", f"{first['score'].round(12).tolist()}\n"]
    # results gone, description remembered: the dataset is opened for real and recomputed
    shutil.rmtree(out / "store")
    again = run_benchmark(files, "FakeDataset", out, **kwargs)
    assert again.attrs["n_computed"] == first.attrs["n_computed"] == 2  # 2 sessions
    assert again.attrs["loaded_subjects"] == ["1"] and len(again) == len(first)
