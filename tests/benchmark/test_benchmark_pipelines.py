"""The shipped pipeline files load safely, MOABB's parser accepts them, bad files fail clearly."""

import shutil
from pathlib import Path

import pytest

from neurodecode.benchmark import load_pipeline, load_pipelines
from neurodecode.data.errors import DataError

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"  # also the pipelines_dir fixture
EXPECTED = {
    "TS+LR", "TS+SVM", "CSP+LDA", "MDM", "FgMDM", "ACM+TS+SVM (grid)", "ACM+TS+SVM (auto)",
    "XdawnCov+TS+SVM", "EEGNet", "ShallowFBCSPNet", "HiSTN",
}  # fmt: skip
DEEP = {"EEGNet", "ShallowFBCSPNet", "HiSTN"}


def test_shipped_pipelines_load():
    specs = load_pipelines(PIPELINES)
    assert {s.name for s in specs} == EXPECTED
    grid = next(s for s in specs if s.name == "ACM+TS+SVM (grid)")
    assert len(grid.param_grid["augmentedcovariances__order"]) == 10
    assert len(grid.param_grid["augmentedcovariances__lag"]) == 10
    auto = next(s for s in specs if s.name == "ACM+TS+SVM (auto)")
    assert auto.pipeline.get_params()["augmentedcovariances__order"] == "auto"
    assert not auto.param_grid


def test_moabb_parser_accepts_our_files_unchanged(tmp_path):
    utils = pytest.importorskip("moabb.pipelines.utils")
    from neurodecode.models._braindecode import ensure_braindecode

    try:
        ensure_braindecode()  # braindecode 0.8.1 needs an alias in MOABB >= 1.1 before import
    except DataError:
        pytest.skip("braindecode is not installed (pip install neurodecode[deep])")
    # a copy: MOABB's parser leaves a ``.lock`` file beside every YAML it reads
    copy = shutil.copytree(PIPELINES, tmp_path / "pipelines", ignore=shutil.ignore_patterns("recon"))
    configs = utils.parse_pipelines_from_directory(str(copy))
    ours = {s.name: s for s in load_pipelines(PIPELINES)}
    assert {c["name"] for c in configs} == EXPECTED
    for config in configs:
        assert repr(config["pipeline"]) == repr(ours[config["name"]].pipeline)
        assert config.get("param_grid", {}) == ours[config["name"]].param_grid
    paradigms = utils.generate_paradigms(configs)
    assert set(paradigms["MotorImagery"]) == EXPECTED - {"XdawnCov+TS+SVM", "HiSTN"}
    assert set(paradigms["Emotion"]) == DEEP | {"TS+LR"}
    assert set(paradigms["P300"]) == {"XdawnCov+TS+SVM"}
    assert set(utils.generate_param_grid(configs)) == {"TS+SVM", "ACM+TS+SVM (grid)"}


GOOD = """\
name: mine
paradigms: [MotorImagery]
pipeline:
  - name: BatchCovariances
    from: neurodecode.riemann
    parameters: {estimator: oas}
  - name: TangentSpace
    from: pyriemann.tangentspace
  - name: LogisticRegression
    from: sklearn.linear_model
param_grid:
  logisticregression__C: [0.1, 1.0]
"""


def _write(tmp_path, text, name="p.yml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_builds_the_pipeline(tmp_path):
    spec = load_pipeline(_write(tmp_path, GOOD))
    assert [name for name, _ in spec.pipeline.steps] == [
        "batchcovariances", "tangentspace", "logisticregression",
    ]  # fmt: skip
    assert spec.pipeline.get_params()["batchcovariances__estimator"] == "oas"


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("from: pyriemann.tangentspace", "from: os", 8, "module 'os' is not allowed"),
        ("logisticregression__C", "logisticregression__alpha", 12, "not a parameter"),
        ("name: TangentSpace", "name: tangent_space", 7, "no scikit-learn estimator"),
        ("{estimator: oas}", "{estimator: oas, shrink: 2}", 6, "no parameter(s) ['shrink']"),
        ("paradigms: [MotorImagery]", "paradigms: [MotorImagery]\nname: again", 3,
         "duplicate key 'name'"),
        ("param_grid:", "grid:", 11, "unknown key(s) ['grid']"),
        ("[0.1, 1.0]", "0.1", 12, "must be a non-empty list"),
    ],
)  # fmt: skip
def test_bad_files_fail_with_file_and_line(tmp_path, old, new, line, message):
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(DataError) as err:
        load_pipeline(path)
    assert f"{path}:{line}:" in str(err.value)
    assert message in str(err.value)


def test_unsafe_yaml_is_not_executed(tmp_path):
    path = _write(tmp_path, GOOD.replace("name: mine", "name: !!python/object/apply:os.system [echo]"))
    with pytest.raises(DataError, match="not valid YAML"):
        load_pipeline(path)


def test_duplicate_names_across_files_are_rejected(tmp_path):
    a = _write(tmp_path, GOOD, "a.yml")
    b = _write(tmp_path, GOOD, "b.yml")
    with pytest.raises(DataError, match="duplicate pipeline name 'mine'") as err:
        load_pipelines([a, b])
    assert str(a) in str(err.value) and str(b) in str(err.value)


def test_missing_files_and_keys(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_pipelines(tmp_path / "nope.yml")
    with pytest.raises(DataError, match="no pipeline files"):
        load_pipelines(tmp_path)
    with pytest.raises(DataError, match="missing required key 'pipeline'"):
        load_pipeline(_write(tmp_path, "name: x\nparadigms: [P300]\n"))
