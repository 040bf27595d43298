"""Run every benchmark script, then write ``bench/results/REPORT.md`` from the recorded JSON.

Each ``bench/*.py`` (except this file and ``gpu.py``) is a standalone script that measures
neurodecode beside its reference implementation in the same run and writes one or more JSON
files under ``bench/results/``. This command runs them one after another (each in its own
process, so peak-memory numbers do not mix), then renders every JSON file into one Markdown
report: its description, every scalar it recorded, its tables of rows, and its machine block.
Nothing in the report is typed by hand: a number that is not in a JSON file is not in it.

Usage::

    python bench/run_all.py                   # run everything (about an hour on 2 cores)
    python bench/run_all.py --only rsa_speed metrics
    python bench/run_all.py --report-only     # re-render REPORT.md from the JSON on disk

A script that fails is reported (exit code and the tail of its output) and the others go on;
the command exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
REPORT = RESULTS / "REPORT.md"
NOT_BENCHMARKS = {"run_all", "gpu"}
PACKAGES = ("neurodecode", "numpy", "torch", "scikit-learn", "mne", "moabb", "pyriemann",
            "rsatoolbox", "diffusers", "himalaya", "braindecode")
MACHINE_KEYS = ("machine", "machine_info")


def scripts() -> list[Path]:
    """Every benchmark script, in name order."""
    return sorted(p for p in BENCH.glob("*.py") if p.stem not in NOT_BENCHMARKS)


def run(selected: list[Path], timeout_s: float) -> list[dict]:
    """Run each script in its own process; returns one status row per script."""
    status = []
    for script in selected:
        print(f"[bench] {script.name} ...", flush=True)
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                  timeout=timeout_s, cwd=BENCH.parent)
            code, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            code, tail = "timeout", f"stopped after {timeout_s:.0f} s"
        seconds = time.perf_counter() - start
        print(f"[bench] {script.name}: exit {code} in {seconds:.0f} s", flush=True)
        status.append({"script": script.name, "exit": code, "seconds": round(seconds, 1),
                       "tail": tail if code != 0 else ""})
    return status


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def _flatten(record: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Scalars of a nested dict as (dotted key, value); lists of dicts are left to tables."""
    out = []
    for key, value in record.items():
        name = f"{prefix}{key}"
        if key in MACHINE_KEYS:
            continue
        if isinstance(value, dict):
            out += _flatten(value, name + ".")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            continue
        else:
            out.append((name, value))
    return out


def _tables(record: dict, prefix: str = "") -> list[tuple[str, list[dict]]]:
    out = []
    for key, value in record.items():
        if isinstance(value, dict) and key not in MACHINE_KEYS:
            out += _tables(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append((prefix + key, value))
    return out


def render(status: list[dict] | None = None) -> str:
    """The Markdown report of every JSON file under ``bench/results``."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# neurodecode benchmark report", "",
             f"Rendered {now} by `python bench/run_all.py` on {platform.platform()} "
             f"({platform.machine()}, Python {platform.python_version()}).", "",
             "Every number below is read from the JSON file named in its section, written by "
             "the bench script of the same name; ratios compare neurodecode with the reference "
             "implementation measured in the same run. Each file's own `machine` block says "
             "where and when it was measured.", "",
             "Versions now: " + ", ".join(f"{k} {v}" for k, v in _versions().items()), ""]
    if status:
        lines += ["## This run", ""] + _table(status) + [""]
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        lines += [f"## {path.stem}", "", f"File `bench/results/{path.name}`."]
        if not isinstance(record, dict):
            lines += ["", "```", json.dumps(record)[:2000], "```", ""]
            continue
        scalars = _flatten(record)
        if scalars:
            lines += ["", "| field | value |", "|---|---|"]
            lines += [f"| {k} | {_cell(v)} |" for k, v in scalars]
        for name, rows in _tables(record):
            lines += ["", f"**{name}** ({len(rows)} rows)", ""] + _table(rows[:40])
            if len(rows) > 40:
                lines.append(f"({len(rows) - 40} more rows in the JSON)")
        machine = next((record[k] for k in MACHINE_KEYS if k in record), None)
        if machine is not None:
            lines += ["", f"Machine: `{_cell(machine) if not isinstance(machine, str) else machine}`"]
        pngs = sorted(RESULTS.glob(f"{path.stem}*.png"))
        lines += [f"![{p.stem}]({p.name})" for p in pngs]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="script names without .py")
    parser.add_argument("--report-only", action="store_true", help="only re-render REPORT.md")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    args = parser.parse_args(argv)
    status = None
    if not args.report_only:
        selected = scripts()
        if args.only:
            unknown = set(args.only) - {p.stem for p in selected}
            if unknown:
                parser.error(f"no bench script named {sorted(unknown)}; "
                             f"have {[p.stem for p in selected]}")
            selected = [p for p in selected if p.stem in args.only]
        status = run(selected, args.timeout)
    sys.path.insert(0, str(BENCH.parent))
    from neurodecode._files import write_text

    write_text(REPORT, render(status))
    print(f"wrote {REPORT}")
    return 0 if not status or all(s["exit"] == 0 for s in status) else 1


if __name__ == "__main__":
    sys.exit(main())
