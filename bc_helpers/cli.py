"""`python -m bc_helpers COMMAND`: the workbook's commands for scripts and batch users."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .datasets import DATASETS, index_dataset
from .errors import WorkbookError


def cmd_index(args: argparse.Namespace) -> int:
    index = index_dataset(args.dataset, args.data_dir, strict=args.strict, magnification=args.magnification)
    print(json.dumps(index.summary(), indent=2))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .sample import SampleSpec, write_sample

    summary = write_sample(args.out, SampleSpec(seed=args.seed, patients=args.patients))
    print(json.dumps({"out": str(args.out), **summary}, indent=2))
    return 0


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="sample", choices=list(DATASETS), help="which dataset layout")
    p.add_argument("--data-dir", type=Path, default=None, help="the dataset's folder (default: under data/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bc_helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a dataset folder and print a JSON summary")
    _add_data_args(p)
    p.add_argument("--strict", action="store_true", help="any problem in the data is an error")
    p.add_argument("--magnification", default="400X", help="BreaKHis_v1 tree: 40X, 100X, 200X or 400X")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("sample", help="write the built-in SYNTHETIC sample into a new folder")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patients", type=int, default=40, help="IDC-like patients")
    p.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
