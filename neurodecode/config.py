"""Validation of configuration files at the boundary, before any data is loaded.

Every experiment config (``pipelines/recon/*.yaml``) goes through :func:`validate_experiment`:
unknown keys are refused (with the closest known key as a hint), values are checked for type
and range (``lr`` a number > 0, ``batch_size`` and ``epochs`` >= 1, ``width`` >= 1, known loss
and head names, loss heads that are declared targets...), and every error names the file and
line. The accepted keys of ``model``, ``model.adapter``, ``targets`` and ``train`` are read from
the dataclasses that consume them (:class:`~neurodecode.models.decoder.DecoderConfig`,
:class:`~neurodecode.models.adapters.AdapterConfig`,
:class:`~neurodecode.models.decoder.HeadConfig`,
:class:`~neurodecode.training.trainer.TrainConfig`), so a new field is accepted as soon as
the model understands it; ranges for known fields live in :data:`RULES`.

YAML 1.1 (PyYAML) reads an unquoted ``1e-3`` as the *string* "1e-3"; a plain (unquoted)
scalar that parses as a number is accepted as that number, a quoted one is refused.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from neurodecode.errors import DataError


class ConfigError(DataError):
    """A configuration value that is missing, unknown, of the wrong type or out of range."""


# --------------------------------------------------------------------------- YAML with lines
Lines = dict[tuple, int]


def read_yaml(path: str | Path) -> tuple[Any, Lines, set[tuple]]:
    """Parse ``path`` with the safe loader; return ``(data, lines, plain)``.

    ``lines`` maps key paths (tuples of keys and list positions) to 1-based line numbers;
    ``plain`` holds the paths of unquoted scalars (so ``1e-3`` written without quotes can be
    told from ``"1e-3"``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: config file not found" if not path.exists()
                        else f"{path}: is a folder, expected a YAML file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read this file as text ({err})") from err
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DataError(f"{where}: not valid YAML ({problem})") from err
    lines: Lines = {}
    plain: set[tuple] = set()
    if node is not None:
        _walk(node, (), lines, plain)
    return data, lines, plain


def _walk(node: yaml.Node, path: tuple, lines: Lines, plain: set[tuple]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = _construct(key)
            if not isinstance(k, typing.Hashable):
                continue
            lines[path + (k,)] = key.start_mark.line + 1
            _walk(value, path + (k,), lines, plain)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, plain)
    elif isinstance(node, yaml.ScalarNode) and node.style is None:
        plain.add(path)


def _construct(node: yaml.Node) -> Any:
    """The Python value of one composed node, as ``yaml.safe_load`` would build it."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- rules
def _positive(v: float) -> bool:
    return v > 0


def _non_negative(v: float) -> bool:
    return v >= 0


def _at_least_one(v: float) -> bool:
    return v >= 1


def _unit(v: float) -> bool:
    return 0 <= v <= 1


def _proportion(v: float) -> bool:
    return 0 <= v < 1


Rule = tuple[Callable[[Any], bool], str]
POSITIVE: Rule = (_positive, "> 0")
NON_NEGATIVE: Rule = (_non_negative, ">= 0")
AT_LEAST_ONE: Rule = (_at_least_one, ">= 1")
UNIT: Rule = (_unit, "between 0 and 1")
DROPOUT: Rule = (_proportion, "in [0, 1)")


def _choices(*values: str) -> Rule:
    return (lambda v: v in values, f"one of {list(values)}")


RULES: dict[str, dict[str, Rule]] = {
    "train": {"epochs": AT_LEAST_ONE, "batch_size": AT_LEAST_ONE, "lr": POSITIVE,
              "weight_decay": NON_NEGATIVE, "adapter_weight_decay": NON_NEGATIVE,
              "grad_clip": NON_NEGATIVE,
              "mixed_precision": _choices("no", "fp16", "bf16", "fp8"),
              "val_fraction": DROPOUT},
    "loss": {"weight": NON_NEGATIVE, "start": UNIT, "end": UNIT, "temperature": POSITIVE},
    "model": {"width": AT_LEAST_ONE, "depth": NON_NEGATIVE, "dropout": DROPOUT},
    "adapter": {"dropout": DROPOUT, "pool_size": AT_LEAST_ONE, "rank": AT_LEAST_ONE,
                "anchors_per_axis": AT_LEAST_ONE, "anchor_sigma": POSITIVE,
                "builder_hidden": AT_LEAST_ONE},
    "target": {"rank": AT_LEAST_ONE, "channels": AT_LEAST_ONE},
    "data": {"bin_s": POSITIVE},
}

SECTIONS = ("name", "data", "targets", "model", "train", "full_scale")
DATA_KEYS: dict[str, Any] = {"dataset": str, "subjects": list[int | str], "params": dict,
                             "bin_s": float, "extractors": dict,
                             # sensor epochs into the brain module (neurodecode.training.meg)
                             "window": list[float], "n_distractors": int}
HEAD_LOSSES = ("softclip", "infonce", "bimixco", "mse")  # need ``head``: a target space
BUILDER_LOSSES = ("cycle", "voxel")  # need ``model.adapter.builder: true``


# --------------------------------------------------------------------------- the checker
class _Checker:
    def __init__(self, source: str, lines: Lines | None, plain: set[tuple] | None):
        self.source, self.lines, self.plain = source, lines or {}, plain
        self.errors: list[str] = []

    def where(self, path: tuple) -> str:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return f"{self.source}:{self.lines[path[:cut]]}"
        return self.source

    def fail(self, path: tuple, message: str) -> None:
        dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)
        dotted = dotted.replace(".[", "[")
        self.errors.append(f"{self.where(path)}: {dotted}: {message}")

    def mapping(self, value: Any, path: tuple, known: dict[str, Any],
                rules: dict[str, Rule] | None = None, required: tuple = ()) -> dict:
        """Check a mapping against ``known`` (key -> type); return it with numbers coerced."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping with keys {sorted(known)}, found "
                            f"{_describe(value)}")
            return {}
        out = {}
        for key, item in value.items():
            if key not in known:
                close = difflib.get_close_matches(str(key), [str(k) for k in known], 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(path + (key,), f"unknown key{hint}; known keys: {sorted(known)}")
                continue
            out[key] = self.value(item, path + (key,), known[key], (rules or {}).get(key))
        for key in required:
            if key not in value:
                self.fail(path, f"missing required key {key!r}")
        return out

    def value(self, value: Any, path: tuple, hint: Any, rule: Rule | None = None) -> Any:
        value, ok = self.typed(value, path, hint)
        if ok and rule is not None and value is not None and not rule[0](value):
            expected = rule[1] if rule[1].startswith("one of") else f"{_expect(hint)} {rule[1]}"
            self.fail(path, f"expected {expected}, found {value!r}")
        return value

    def typed(self, value: Any, path: tuple, hint: Any) -> tuple[Any, bool]:
        """``(value, ok)``: ``value`` checked against the type hint (numbers coerced)."""
        origin = typing.get_origin(hint)
        if hint is Any or hint is None:
            return value, True
        if origin in (typing.Union, types.UnionType):
            options = typing.get_args(hint)
            if value is None and type(None) in options:
                return None, True
            for option in options:
                if option is type(None):
                    continue
                checked, ok = _Checker(self.source, self.lines, self.plain).typed(
                    value, path, option)
                if ok:
                    return checked, True
            self.fail(path, f"expected {_expect(hint)}, found {_describe(value)}")
            return value, False
        if hint is bool:
            if isinstance(value, bool):
                return value, True
        elif hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value, True
            number = self._number(value, path)
            if number is not None and float(number).is_integer():
                return int(number), True
        elif hint is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    return float(value), True
            number = self._number(value, path)
            if number is not None and math.isfinite(number):
                return number, True
        elif hint is str:
            if isinstance(value, str):
                return value, True
        elif origin in (list, tuple) or hint in (list, tuple):
            if isinstance(value, list | tuple):
                args = typing.get_args(hint)
                if not args or args[-1] is Ellipsis or origin is list:
                    item = args[0] if args else Any
                    out = [self.value(v, path + (i,), item) for i, v in enumerate(value)]
                    return (tuple(out) if origin is tuple else out), True
                return list(value), True
        elif origin is dict or hint is dict:
            if isinstance(value, dict):
                return value, True
        elif dataclasses.is_dataclass(hint):
            return self.mapping(value, path, _fields(hint)), True
        else:
            return value, True  # a type this checker does not know: the consumer checks it
        quoted = ""
        if hint in (int, float) and isinstance(value, str):
            try:
                float(value)
                quoted = " (a quoted number: write it without quotes)"
            except ValueError:
                pass
        self.fail(path, f"expected {_expect(hint)}, found {_describe(value)}{quoted}")
        return value, False

    def _number(self, value: Any, path: tuple) -> float | None:
        """An unquoted YAML scalar such as ``1e-3`` (a string to YAML 1.1) as a number."""
        if isinstance(value, str) and self.plain is not None and path in self.plain:
            try:
                return float(value)
            except ValueError:
                return None
        return None


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {value}"
    return f"{type(value).__name__} {value!r}"


def _expect(hint: Any) -> str:
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if hint is bool:
        return "true or false"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expect(a) for a in typing.get_args(hint) if a is not type(None))
    if origin in (list, tuple) or hint in (list, tuple):
        return "a list"
    if origin is dict or hint is dict or dataclasses.is_dataclass(hint):
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def _fields(cls: type, exclude: tuple = ()) -> dict[str, Any]:
    """Field name -> resolved type hint of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)
            if f.name not in exclude}


# --------------------------------------------------------------------------- experiments
def validate_experiment(d: Any, source: str = "<dict>", lines: Lines | None = None,
                        plain: set[tuple] | None = None) -> dict:
    """Check an experiment config (the four sections of ``pipelines/recon/*.yaml``).

    Returns a copy with numbers coerced (``1e-3`` written unquoted becomes 0.001); raises
    :class:`ConfigError` listing every problem as ``file:line: key: what was expected, what
    was found``.
    """
    from neurodecode.models.adapters import ADAPTERS, AdapterConfig
    from neurodecode.models.decoder import DecoderConfig, HeadConfig
    from neurodecode.training import losses as L
    from neurodecode.training.trainer import LossTerm, TrainConfig

    check = _Checker(source, lines, plain)
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: expected a mapping with sections {list(SECTIONS)}, found "
                          f"{_describe(d)}")
    out: dict[str, Any] = {}
    for key in d:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            check.fail((key,), f"unknown section{hint}; expected {list(SECTIONS)}")
    for key in ("name", "data", "targets"):
        if key not in d:
            check.fail((), f"missing section {key!r}")
    if "name" in d:
        out["name"] = check.value(d["name"], ("name",), str | int)
        out["name"] = str(out["name"])
    out["data"] = check.mapping(d.get("data"), ("data",), DATA_KEYS, RULES["data"])

    # targets: space + head kind + the other HeadConfig fields
    target_fields = {"space": str, "head": str,
                     **_fields(HeadConfig, exclude=("target", "shape", "kind"))}
    brain_module = isinstance(d.get("model"), dict) and d["model"].get("kind") == "brain_module"
    if brain_module:  # a contrastive head per target (neurodecode.models.brain_module)
        target_fields["clip"] = bool
    head_kinds = ("linear", "lowrank", "tokenwise", "spatial")
    targets = d.get("targets")
    out["targets"] = []
    if "targets" in d and (not isinstance(targets, list) or not targets):
        check.fail(("targets",), "expected a non-empty list of {space: ..., head: ...}, found "
                                 f"{_describe(targets)}")
    elif isinstance(targets, list):
        for i, t in enumerate(targets):
            rules = {**RULES["target"], "head": _choices(*head_kinds)}
            out["targets"].append(check.mapping(t, ("targets", i), target_fields, rules,
                                                required=("space",)))
    spaces = [t.get("space") for t in out["targets"]]
    spaces += [f"clip:{t.get('space')}" for t in out["targets"] if t.get("clip")]

    # model: DecoderConfig fields (minus what the data decides) + the adapter
    model_fields = _fields(DecoderConfig, exclude=("n_features", "heads"))
    model_rules = dict(RULES["model"])
    decoders = getattr(__import__("neurodecode.models.decoder", fromlist=["x"]), "DECODERS",
                       None)
    if decoders and "decoder" in model_fields:
        model_rules["decoder"] = _choices(*decoders)
    model_fields["adapter"] = dict
    if brain_module:  # BrainModuleConfig fields, minus what the data decide
        from neurodecode.models.brain_module import BrainModuleConfig

        model_fields = {"kind": str, **_fields(BrainModuleConfig, exclude=(
            "n_features", "n_times", "heads", "clip", "baseline_samples"))}
        model_rules = {"dropout": DROPOUT, "spatial_dropout": NON_NEGATIVE,
                       **{k: AT_LEAST_ONE for k in ("spatial_channels", "fourier_freqs",
                                                    "hidden", "depth", "kernel",
                                                    "out_channels")},
                       "aggregation": _choices("affine", "mean"), "clamp": POSITIVE}
    model = check.mapping(d.get("model"), ("model",), model_fields, model_rules)
    if "adapter" in model and not brain_module:
        rules = {**RULES["adapter"], "kind": _choices(*sorted(ADAPTERS))}
        model["adapter"] = check.mapping(model["adapter"], ("model", "adapter"),
                                         _fields(AdapterConfig), rules)
    out["model"] = model

    # train: TrainConfig fields; losses are LossTerm mappings with known names and heads
    train_fields = _fields(TrainConfig)
    train_fields["losses"] = list
    train = check.mapping(d.get("train"), ("train",), train_fields, RULES["train"])
    losses = []
    for i, term in enumerate(train.get("losses") or []):
        path = ("train", "losses", i)
        rules = {**RULES["loss"], "name": _choices(*sorted(L.LOSSES))}
        t = check.mapping(term, path, _fields(LossTerm), rules, required=("name",))
        name = t.get("name")
        if name in HEAD_LOSSES:
            if t.get("head") is None:
                check.fail(path, f"loss {name!r} needs head: one of the target spaces {spaces}")
            elif t["head"] not in spaces:
                check.fail(path + ("head",), f"{t['head']!r} is not a target space; declared "
                                             f"targets: {spaces}")
        if name in BUILDER_LOSSES and not model.get("adapter", {}).get("builder", False):
            check.fail(path, f"loss {name!r} needs model.adapter.builder: true (MindBridge "
                             "builders)")
        if isinstance(t.get("start"), float) and isinstance(t.get("end"), float) and \
                t["start"] >= t["end"]:
            check.fail(path, f"start {t['start']} must be below end {t['end']}")
        losses.append(t)
    if "losses" in train:
        train["losses"] = losses
    out["train"] = train
    if d.get("full_scale") is not None:
        out["full_scale"] = check.mapping(d["full_scale"], ("full_scale",),
                                          {k: Any for k in d["full_scale"]}
                                          if isinstance(d["full_scale"], dict) else {})
    if check.errors:
        shown = check.errors[:6]
        more = f" (and {len(check.errors) - 6} more)" if len(check.errors) > 6 else ""
        raise ConfigError("; ".join(shown) + more)
    return out


def load_experiment_dict(path: str | Path) -> dict:
    """Read and validate an experiment YAML; errors carry ``file:line``."""
    data, lines, plain = read_yaml(path)
    return validate_experiment(data, str(path), lines, plain)
