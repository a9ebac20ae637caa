"""`colorizer train DATA --out RUN`: train the network (flags made from `TrainConfig`; torchrun for several GPUs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer.cli.common import (
    error,
    needs_extra,
)


def add_parser(commands) -> None:
    from colorizer.training.config import TrainConfig, add_dataclass_arguments

    p = commands.add_parser(
        "train",
        help="train the colorization network on a prepared folder",
        description="Train on DATA (from `colorizer prepare`), writing checkpoints, log.jsonl, loss.png and "
        "per-epoch sample grids to --out. Defaults follow the paper (batch 15, Adam 1e-4, MSE on ab, 224 px). "
        "Under torchrun it trains with DistributedDataParallel.",
    )
    p.add_argument("data", nargs="?", metavar="DATA", help="prepared folder (or set `data` in --config)")
    p.add_argument("--config", type=Path, help="TOML file of settings; flags given here override it")
    add_dataclass_arguments(p, TrainConfig, skip=("data",))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from colorizer.training.checkpoint import CheckpointError
        from colorizer.training.config import TrainConfig, resolve_config
        from colorizer.training.data import DataError
        from colorizer.training.encoders import WeightsError
        from colorizer.training.train import TrainError, train
    except ImportError as err:
        return needs_extra("train", "training", err)
    try:
        cfg = resolve_config(TrainConfig, vars(args), args.config)
        if not cfg.data or not cfg.out:
            return error("train needs DATA and --out (on the command line or in --config)")
        result = train(cfg)
    except (ValueError, TrainError, CheckpointError, DataError, WeightsError) as err:
        return error(str(err))
    return 130 if result["interrupted"] else 0
