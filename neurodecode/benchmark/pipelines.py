"""Read MOABB-schema pipeline YAML files safely.

A file names a pipeline, the paradigms it applies to, its steps and an optional grid::

    name: TS+LR
    paradigms: [LeftRightImagery, MotorImagery]
    citations: [https://doi.org/10.1016/j.neucom.2012.12.039]
    pipeline:
      - {name: BatchCovariances, from: neurodecode.riemann, parameters: {estimator: oas}}
      - {name: TangentSpace, from: pyriemann.tangentspace}
      - {name: LogisticRegression, from: sklearn.linear_model, parameters: {C: 1.0}}
    param_grid:
      logisticregression__C: [0.1, 1.0, 10.0]

Unlike MOABB's own parser, this one uses ``yaml.safe_load``, imports only from
:data:`ALLOWED_MODULES`, instantiates only scikit-learn estimators, rejects duplicate names
and keys, checks every ``param_grid`` key against the built pipeline, and reports errors with
the file and line. The files stay readable by ``moabb.pipelines.utils``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from neurodecode.data.errors import DataError

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline
# scikit-learn is imported where pipelines are built: reading files to ask the result store
# (load_pipeline(build=False)) needs only yaml

ALLOWED_MODULES = frozenset(
    {
        "neurodecode.riemann",
        "pyriemann.estimation",
        "pyriemann.tangentspace",
        "pyriemann.classification",
        "pyriemann.spatialfilters",
        "pyriemann.channelselection",
        "pyriemann.preprocessing",
        "sklearn.linear_model",
        "sklearn.svm",
        "sklearn.discriminant_analysis",
        "sklearn.preprocessing",
        "sklearn.decomposition",
        "sklearn.ensemble",
        "sklearn.neighbors",
        "sklearn.feature_selection",
        "mne.decoding",
        "moabb.pipelines.features",
        "moabb.pipelines.csp",
        # deep models: braindecode's EEGClassifier (skorch) and model zoo, and ours
        "braindecode",
        "braindecode.models",
        "neurodecode.models.histn",
        "neurodecode.models.seeding",
    }
)
TOP_LEVEL_KEYS = {"name", "paradigms", "citations", "pipeline", "param_grid"}
STEP_KEYS = {"name", "from", "parameters"}


@dataclass
class PipelineSpec:
    """One pipeline file, parsed and built.

    Attributes
    ----------
    name : str
        Unique pipeline name (the ``pipeline`` column of results).
    paradigms : list of str
        Paradigm names it applies to (``LeftRightImagery``, ``MotorImagery``, ``P300``...).
    pipeline : sklearn.pipeline.Pipeline or None
        Unfitted, built with ``make_pipeline`` (step names are lower-cased class names);
        None when read with ``build=False``.
    param_grid : dict
        Grid for the nested search (empty when none).
    config : dict
        The file's content, used to key cached results.
    path : Path
        Where it came from.
    citations : list of str
    """

    name: str
    paradigms: list[str]
    pipeline: Pipeline | None
    param_grid: dict[str, list] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    citations: list[str] = field(default_factory=list)


def load_pipeline(path: str | Path, build: bool = True) -> PipelineSpec:
    """Parse and build one pipeline file; any problem raises :class:`DataError` with a line.

    With ``build=False`` the file is parsed and its structure checked (keys, name,
    paradigms, a non-empty list of steps) but no step is imported or instantiated:
    ``pipeline`` is None. A benchmark reads its files this way to ask its result store what
    is missing, then builds (and fully checks) only the pipelines that have work, so a rerun
    imports no estimator library.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pipeline file not found")
    root, config = _parse(path)
    where = _Locator(path, root)
    where.check_unique_keys(root)
    if not isinstance(config, dict):
        raise where.error((), "expected a mapping with keys name, paradigms, pipeline")
    unknown = set(config) - TOP_LEVEL_KEYS
    if unknown:
        raise where.error(
            (sorted(unknown)[0],), f"unknown key(s) {sorted(unknown)}; allowed: "
            f"{sorted(TOP_LEVEL_KEYS)}"
        )  # fmt: skip
    for key in ("name", "paradigms", "pipeline"):
        if key not in config:
            raise where.error((), f"missing required key {key!r}")
    if not isinstance(config["name"], str) or not config["name"].strip():
        raise where.error(("name",), "name must be a non-empty string")
    paradigms = config["paradigms"]
    if not isinstance(paradigms, list) or not all(isinstance(p, str) for p in paradigms):
        raise where.error(("paradigms",), "paradigms must be a list of paradigm names")
    steps = config["pipeline"]
    if not isinstance(steps, list) or not steps:
        raise where.error(("pipeline",), "pipeline must be a non-empty list of steps")
    grid = config.get("param_grid") or {}
    pipeline = None
    if build:
        from sklearn.pipeline import make_pipeline

        pipeline = make_pipeline(*[_build_step(step, i, where) for i, step in enumerate(steps)])
        _check_grid(grid, pipeline, where)
    return PipelineSpec(
        name=config["name"],
        paradigms=list(paradigms),
        pipeline=pipeline,
        param_grid=grid,
        config=config,
        path=path,
        citations=list(config.get("citations") or []),
    )


_PARSED: dict[tuple[str, int, int], tuple[Any, Any]] = {}


def _parse(path: Path) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the content of a YAML file, parsed once, with
    libyaml's C parser when PyYAML has it (a tenth of the pure-Python parser's time).

    A file already parsed in this process, with the same size and modification time, is
    not read again (a copy of its content is returned): a notebook or script that reruns a
    benchmark re-reads no YAML.
    """
    import copy

    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo in _PARSED:
        root, config = _PARSED[memo]
        return root, copy.deepcopy(config)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(path.read_text())
    try:
        root = loader.get_single_node()
        config = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as err:
        raise DataError(f"{path}: not valid YAML: {err}") from None
    finally:
        loader.dispose()
    if len(_PARSED) >= 256:
        _PARSED.clear()
    _PARSED[memo] = (root, copy.deepcopy(config))
    return root, config


def load_pipelines(paths: str | Path | list, build: bool = True) -> list[PipelineSpec]:
    """Load files and folders of ``*.yml`` files (sorted); names must be unique across all.

    ``build``: see :func:`load_pipeline`.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.yml")) + sorted(p.glob("*.yaml"))
            if not found:
                raise DataError(f"{p}: no pipeline files (*.yml) in this folder")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: pipeline file or folder not found")
    specs: list[PipelineSpec] = []
    seen: dict[str, Path] = {}
    for f in files:
        spec = load_pipeline(f, build)
        if spec.name in seen:
            raise DataError(
                f"{f}: duplicate pipeline name {spec.name!r} (also in {seen[spec.name]}); "
                "every pipeline needs a unique name"
            )
        seen[spec.name] = f
        specs.append(spec)
    return specs


def _build_step(step: Any, index: int, where: _Locator) -> BaseEstimator:
    from sklearn.base import BaseEstimator

    loc = ("pipeline", index)
    if not isinstance(step, dict):
        raise where.error(loc, "each pipeline step must be a mapping with 'name' and 'from'")
    unknown = set(step) - STEP_KEYS
    if unknown:
        raise where.error(loc, f"unknown step key(s) {sorted(unknown)}; allowed: {sorted(STEP_KEYS)}")
    for key in ("name", "from"):
        if not isinstance(step.get(key), str):
            raise where.error(loc, f"step needs a string {key!r}")
    module_name, cls_name = step["from"], step["name"]
    if module_name not in ALLOWED_MODULES:
        raise where.error(
            loc + ("from",),
            f"module {module_name!r} is not allowed; pipeline steps may come from: "
            f"{', '.join(sorted(ALLOWED_MODULES))}",
        )
    try:
        if module_name.split(".")[0] == "braindecode":
            from neurodecode.models._braindecode import ensure_braindecode

            ensure_braindecode()  # braindecode 0.8 needs an alias in MOABB >= 1.1
        module = importlib.import_module(module_name)
    except (ImportError, DataError) as err:
        raise where.error(loc + ("from",), f"cannot import {module_name!r} ({err})") from None
    cls = getattr(module, cls_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise where.error(
            loc + ("name",), f"{module_name} has no scikit-learn estimator named {cls_name!r}"
        )
    params = step.get("parameters") or {}
    if not isinstance(params, dict):
        raise where.error(loc + ("parameters",), "parameters must be a mapping")
    is_skorch = any(c.__module__.startswith("skorch.") for c in cls.__mro__)
    if is_skorch:
        # skorch nets (braindecode's EEGClassifier) take most parameters through **kwargs
        # (declared by the __init__ of a parent class) and route "<part>__<name>"
        # (module__F1, optimizer__momentum...) to their parts
        valid = sorted(_skorch_param_names(cls))
        bad = sorted(p for p in params if p not in valid and p.split("__")[0] not in
                     _SKORCH_PARTS)  # fmt: skip
    else:
        valid = cls._get_param_names()
        bad = sorted(set(params) - set(valid))
    if bad:
        raise where.error(
            loc + ("parameters",),
            f"{cls_name} has no parameter(s) {bad}; valid: {sorted(valid)}",
        )
    try:
        estimator = cls(**params)
    except (TypeError, ValueError) as err:
        raise where.error(loc, f"cannot build {cls_name}: {err}") from None
    _check_values(estimator, where, loc + ("parameters",))
    return estimator


_SKORCH_PARTS = ("module", "criterion", "optimizer", "iterator_train", "iterator_valid",
                 "callbacks", "dataset")  # fmt: skip


def _skorch_param_names(cls: type) -> set[str]:
    """Named ``__init__`` parameters of a skorch net class and of its parent classes."""
    import inspect

    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        names |= {p.name for p in inspect.signature(init).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"}  # fmt: skip
    return names


def _check_values(estimator: BaseEstimator, where: _Locator, loc: tuple) -> None:
    """Check parameter values now, not at fit time, with scikit-learn's own declared
    constraints (``_parameter_constraints``, scikit-learn >= 1.2); estimators that declare
    none (pyRiemann, MNE) are checked when fitted."""
    if not hasattr(type(estimator), "_parameter_constraints"):
        return
    try:
        estimator._validate_params()
    except (TypeError, ValueError) as err:
        raise where.error(loc, f"{type(estimator).__name__}: {err}") from None


def _check_grid(grid: Any, pipeline: Pipeline, where: _Locator) -> None:
    from sklearn.base import clone

    if not isinstance(grid, dict):
        raise where.error(("param_grid",), "param_grid must be a mapping of parameter -> list")
    valid = pipeline.get_params()
    for key, values in grid.items():
        if key not in valid:
            steps = [name for name, _ in pipeline.steps]
            raise where.error(
                ("param_grid", key),
                f"param_grid key {key!r} is not a parameter of this pipeline; keys are "
                f"'<step>__<parameter>' with steps {steps}",
            )
        if not isinstance(values, list) or not values:
            raise where.error(("param_grid", key), f"param_grid[{key!r}] must be a non-empty list")
        step_name, _, param = key.partition("__")
        step = dict(pipeline.steps).get(step_name)
        if step is not None and param and "__" not in param:
            for value in values:
                trial = clone(step).set_params(**{param: value})
                _check_values(trial, where, ("param_grid", key))


class _Locator:
    """Line numbers of YAML nodes, for error messages."""

    def __init__(self, path: Path, root: yaml.Node | None) -> None:
        self.path = path
        self.root = root

    def line(self, keys: tuple) -> int:
        node = self.root
        line = 1 if node is None else node.start_mark.line + 1
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if k.value == key]
                if not match:
                    break
                key_node, node = match[0]
                line = key_node.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def error(self, keys: tuple, message: str) -> DataError:
        return DataError(f"{self.path}:{self.line(keys)}: {message}")

    def check_unique_keys(self, node: yaml.Node | None) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key, value in node.value:
                if key.value in seen:
                    raise DataError(
                        f"{self.path}:{key.start_mark.line + 1}: duplicate key {key.value!r}"
                    )
                seen.add(key.value)
                self.check_unique_keys(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.check_unique_keys(item)
