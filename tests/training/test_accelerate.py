"""A 2-process CPU run through `accelerate launch` trains and matches a 1-process run."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def _run(cmd, env):
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _metrics(out: Path) -> dict:
    return {m["subject"]: m for m in json.loads((out / "metrics.json").read_text())["retrieval"]}


def test_two_process_training_matches_one_process(tmp_path, small_config_dict):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("the accelerate launcher is not installed beside this Python")
    config = small_config_dict
    config["data"]["subjects"] = [1, 2]
    config["data"]["params"]["n_subjects"] = 2
    config["train"]["epochs"] = 4
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, NEURODECODE_CACHE=str(tmp_path / "cache"), ACCELERATE_USE_CPU="1",
               OMP_NUM_THREADS="1")
    train = ["-m", "neurodecode.cli", "train", "--config", str(path), "--quiet", "--out"]
    _run([sys.executable, *train, str(tmp_path / "one")], env)
    _run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no", *train, str(tmp_path / "two")],
         env)
    log = (tmp_path / "two" / "train_log.csv").read_text().splitlines()
    assert log[0].split(",")[2] == "processes" and log[1].split(",")[2] == "2"
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    for subject in ("1", "2"):
        assert two[subject]["top1_forward"] > 10 * two[subject]["chance_top1"]
        assert abs(one[subject]["top1_forward"] - two[subject]["top1_forward"]) <= 0.2
        assert abs(one[subject]["two_way"] - two[subject]["two_way"]) <= 0.03
