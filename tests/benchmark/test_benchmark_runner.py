"""The runner: cached reruns compute nothing, interrupted runs resume, inputs fail fast."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import neurodecode.benchmark.evaluation as evaluation
from neurodecode.benchmark import COLUMNS, run_benchmark
from neurodecode.cli.benchmark import benchmark
from neurodecode.data.errors import DataError
from neurodecode.synth import motor_imagery

STABLE = [c for c in COLUMNS if c != "fit_time"]  # everything but the wall-clock time


def _counts(results):
    return {k: results.attrs[k] for k in ("n_computed", "n_cached")}


def _run(out, pipelines, small_mi, **kwargs):
    kwargs = {"subjects": [1, 2], "quiet": True, "plots": False, **kwargs}
    return run_benchmark(pipelines, "synthetic-mi", out, dataset_params=small_mi, **kwargs)


@pytest.mark.slow
def test_second_run_recomputes_nothing(tmp_path, fast_pipelines, small_mi, monkeypatch):
    first = _run(tmp_path, fast_pipelines[:2], small_mi, plots=True)
    assert _counts(first) == {"n_computed": 8, "n_cached": 0}  # 2 pipelines x 2 subjects x 2
    assert list(first.columns) == COLUMNS
    assert (tmp_path / "scores.png").stat().st_size > 0
    assert (tmp_path / "time_vs_score.png").stat().st_size > 0

    def no_fit(job):
        raise AssertionError(f"recomputed {job.row}")

    def no_data(*args, **kwargs):
        raise AssertionError("the world was generated again")

    monkeypatch.setattr(evaluation, "execute", no_fit)
    monkeypatch.setattr(motor_imagery, "make", no_data)  # the store is asked before any data
    second = _run(tmp_path, fast_pipelines[:2], small_mi)
    assert _counts(second) == {"n_computed": 0, "n_cached": 8}
    assert second.attrs["loaded_subjects"] == []
    pd.testing.assert_frame_equal(second, first)
    on_disk = pd.read_csv(tmp_path / "results.csv", dtype={"subject": str, "session": str})
    np.testing.assert_array_equal(on_disk["score"], first["score"])


def test_interrupted_run_resumes_to_identical_results(tmp_path, fast_pipelines, small_mi,
                                                      monkeypatch):  # fmt: skip
    pipelines = fast_pipelines[:1]  # 4 jobs: 2 subjects x 2 sessions
    reference = _run(tmp_path / "reference", pipelines, small_mi)
    real_execute = evaluation.execute
    calls = []

    def dies_after_two(job):
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        calls.append(job.key)
        return real_execute(job)

    monkeypatch.setattr(evaluation, "execute", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "run", pipelines, small_mi)
    stored = list((tmp_path / "run" / "store").rglob("*.json"))
    assert len(stored) == 2 and not list((tmp_path / "run").rglob(".*tmp*"))
    assert not (tmp_path / "run" / "results.csv").exists()

    monkeypatch.setattr(evaluation, "execute", real_execute)
    resumed = _run(tmp_path / "run", pipelines, small_mi)
    assert _counts(resumed) == {"n_computed": 2, "n_cached": 2}
    pd.testing.assert_frame_equal(resumed[STABLE], reference[STABLE])


def test_seed_changes_the_folds_and_the_key(tmp_path, fast_pipelines, small_mi):
    a = _run(tmp_path, fast_pipelines[:1], small_mi)
    b = _run(tmp_path, fast_pipelines[:1], small_mi, seed=7)
    assert b.attrs["n_computed"] == 4 and (b["seed"] == 7).all()
    assert not np.allclose(a["score"], b["score"])


@pytest.mark.slow
def test_dask_backend_gives_the_same_results(tmp_path, fast_pipelines, small_mi):
    distributed = pytest.importorskip("distributed")
    local = _run(tmp_path / "local", fast_pipelines[:1], small_mi)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        remote = _run(tmp_path / "dask", fast_pipelines[:1], small_mi, backend="dask",
                      scheduler=cluster.scheduler_address, n_jobs=2)  # fmt: skip
    assert remote.attrs["n_computed"] == 4
    pd.testing.assert_frame_equal(remote[STABLE], local[STABLE])


@pytest.mark.slow
def test_concurrent_runs_share_one_store_safely(tmp_path, fast_pipelines, small_mi):
    # Two benchmark runs fill the same folder at once (threads, to stay light here).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(_run, tmp_path, fast_pipelines[:1], small_mi) for _ in range(2)]
        a, b = (run.result() for run in runs)
    pd.testing.assert_frame_equal(a[STABLE], b[STABLE])
    assert len(list((tmp_path / "store").rglob("*.json"))) == 4 + 2  # jobs + subject records
    assert not list(tmp_path.rglob(".*tmp*"))
    final = pd.read_csv(tmp_path / "results.csv", dtype={"subject": str, "session": str})
    np.testing.assert_array_equal(final["score"], a["score"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": ["hands", "feet"]}, "unknown event(s) ['hands']"),
        ({"evaluation": "leave-one-out"}, "unknown evaluation"),
        ({"backend": "dask"}, "needs --scheduler"),
        ({"backend": "ray"}, "unknown backend"),
        ({"paradigm": "P300"}, "none of the pipelines applies to paradigm P300"),
        ({"subjects": [0]}, "subjects are numbered 1, 2"),
    ],
)
def test_bad_requests_fail_before_any_fit(tmp_path, fast_pipelines, small_mi, monkeypatch,
                                          kwargs, message):  # fmt: skip
    monkeypatch.setattr(evaluation, "execute", lambda job: pytest.fail("fitted"))
    with pytest.raises(DataError) as err:
        _run(tmp_path, fast_pipelines, small_mi, **kwargs)
    assert message in str(err.value)
    assert not tmp_path.joinpath("results.csv").exists()


def test_one_session_cannot_be_cross_session(tmp_path, fast_pipelines, small_mi):
    with pytest.raises(DataError, match="cross-session evaluation needs at least 2"):
        _run(tmp_path, fast_pipelines, {**small_mi, "n_sessions": 1},
             evaluation="cross-session")  # fmt: skip


@pytest.mark.slow
def test_unknown_dataset_fails_fast_with_suggestions(tmp_path, fast_pipelines):
    pytest.importorskip("moabb")
    with pytest.raises(DataError) as err:
        run_benchmark(fast_pipelines, "BNCI2014_01", tmp_path, quiet=True)
    assert "unknown dataset 'BNCI2014_01'" in str(err.value)
    assert "BNCI2014_001" in str(err.value)  # the closest MOABB code is suggested


@pytest.mark.slow
def test_moabb_datasets_by_code(tmp_path, fast_pipelines, monkeypatch):
    # MOABB's FakeDataset generates its recordings locally: the MOABB path without network.
    pytest.importorskip("moabb")
    monkeypatch.setenv("MNE_DATA", str(tmp_path / "mne_data"))
    (tmp_path / "mne_data").mkdir()  # an existing MNE_DATA: nothing to download
    results = run_benchmark(
        fast_pipelines[:1], "FakeDataset", tmp_path / "out", subjects=[1],
        paradigm="MotorImagery", events=["fake1", "fake2"], quiet=True, plots=False,
    )  # fmt: skip
    assert list(results["session"]) == ["0"] * 5 + ["1"] * 5  # 5 folds per session
    assert (results["dataset"] == "FakeDataset").all() and (results["n_channels"] == 3).all()
    assert (results["metric"] == "roc_auc").all()
    with pytest.raises(DataError, match=r"unknown event\(s\) \['hands'\]"):
        run_benchmark(fast_pipelines[:1], "FakeDataset", tmp_path / "bad", subjects=[1],
                      events=["hands", "fake1"], quiet=True)  # fmt: skip
    with pytest.raises(DataError, match="unknown subject"):
        run_benchmark(fast_pipelines[:1], "FakeDataset", tmp_path / "bad", subjects=[99],
                      quiet=True)  # fmt: skip


def test_cli_runs_and_prints_the_summary(tmp_path, pipelines_dir):
    args = [
        "--pipelines", str(pipelines_dir / "TS_LR.yml"), "--dataset", "synthetic-mi",
        "--subjects", "1", "--events", "left_hand", "feet",
        "--dataset-param", "n_trials_per_class=8", "--dataset-param", "channels=[C3, Cz, C4]",
        "--out", str(tmp_path), "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(benchmark, args)
    assert result.exit_code == 0, result.output
    results = pd.read_csv(tmp_path / "results.csv")
    assert len(results) == 2 * 5 and (results["metric"] == "roc_auc").all()  # sessions x folds
    assert list(results["fold"]) == [0, 1, 2, 3, 4] * 2
    assert (results["dataset"] == "synthetic-mi:physiological").all()  # rows name the world
    assert (results["data_rank"] == 2).all()  # 3 channels, average reference
    loud = CliRunner().invoke(benchmark, args[:-1])
    assert "TS+LR" in loud.output and "0 job(s) computed, 2 from the store" in loud.output
    bad = CliRunner().invoke(benchmark, [*args[:4], "--dataset", "synthetic-mj", "--out",
                                         str(tmp_path / "x")])  # fmt: skip
    assert bad.exit_code != 0 and "synthetic-mj" in bad.output


BROKEN = """\
name: Broken ACM
paradigms: [LeftRightImagery, MotorImagery]
pipeline:
  - name: AugmentedCovariances
    from: neurodecode.riemann
    parameters: {order: 50, lag: 10}
  - name: TangentSpace
    from: pyriemann.tangentspace
  - name: LogisticRegression
    from: sklearn.linear_model
"""


def test_a_failing_pipeline_is_recorded_and_the_others_run(tmp_path, fast_pipelines, small_mi,
                                                           capsys):  # fmt: skip
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)  # 50 x 10 samples of delay do not fit in 3-s trials at 128 Hz
    results = _run(tmp_path / "out", [fast_pipelines[0], broken], small_mi, subjects=[1],
                   quiet=False)  # fmt: skip
    bad = results[results["pipeline"] == "Broken ACM"]
    good = results[results["pipeline"] == "TS+LR"]
    assert len(bad) == len(good) == 10  # 2 sessions x 5 folds each
    assert (good["status"] == "ok").all() and good["score"].notna().all()
    assert (bad["status"] == "failed").all() and bad["score"].isna().all()
    message = bad["error"].iloc[0]
    assert message.startswith("pipeline 'Broken ACM' failed on subject 1, session 1, fold 0:")
    assert "order*lag" in message and "ValueError" in message
    assert results.attrs["n_failed"] == 10
    assert "FAILED: pipeline 'Broken ACM'" in capsys.readouterr().err
