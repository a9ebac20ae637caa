"""The command line itself: --help of every subcommand, `python -m colorizer`, shipped configs parse."""

import subprocess
import sys
from pathlib import Path

import pytest

from colorizer.cli import build_parser, main
from colorizer.training.config import TrainConfig, resolve_config

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["prepare", "train", "colorize", "evaluate", "export", "serve"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert len(capsys.readouterr().out) > 300


def test_python_dash_m_runs_the_same_cli():
    result = subprocess.run([sys.executable, "-m", "colorizer", "--help"], capture_output=True, text=True, check=True)
    assert all(command in result.stdout for command in COMMANDS)


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_parse(config):
    cfg = resolve_config(TrainConfig, {"data": "data", "out": "run"}, config)
    assert cfg.size >= 16 and cfg.epochs >= 1


def test_bad_settings_are_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("sise = 224\n")
    with pytest.raises(ValueError, match="unknown settings sise"):
        resolve_config(TrainConfig, {}, bad)
    with pytest.raises(ValueError, match="batch-size must be >= 1"):
        TrainConfig(batch_size=0)
    assert build_parser().parse_args(["train", "d", "--out", "r", "--no-channels-last"]).channels_last is False
