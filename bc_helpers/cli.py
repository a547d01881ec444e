"""`python -m bc_helpers COMMAND`: the workbook's commands for scripts and batch users."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .data.datasets import index_dataset
from .data.registry import DATASETS
from .data.sources import resolve_data_dir
from .errors import WorkbookError
from .runs.catalogue import MODEL_NAMES


def cmd_index(args: argparse.Namespace) -> int:
    """`index`: index a dataset folder, print its JSON summary."""
    index = index_dataset(args.dataset, resolve_data_dir(args.dataset, args.data_dir), strict=args.strict,
                          magnification=args.magnification)
    print(json.dumps(index.summary(), indent=2))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """`sample`: write the SYNTHETIC sample into a new folder, print what was written."""
    from .data.sample import MARKER, SampleSpec, ensure_sample, write_sample

    chosen = {name: value for name, value in (("seed", args.seed), ("patients", args.patients)) if value is not None}
    if args.update:
        ensure_sample(args.out, SampleSpec(**chosen), replace_outdated=True)
        summary = json.loads((args.out / MARKER).read_text())
    else:
        summary = write_sample(args.out, SampleSpec(**chosen))
    print(json.dumps({"out": str(args.out), **summary}, indent=2))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """`train`: train one model into a run folder, print its headline metrics."""
    from .runs.folders import TrainConfig
    from .training.trainer import train

    hparams = json.loads(args.hparams) if args.hparams else {}
    config = TrainConfig(
        dataset=args.dataset, data_dir=str(args.data_dir) if args.data_dir else None, model=args.model,
        epochs=args.epochs, image_size=args.image_size, batch_size=args.batch_size, protocol=args.protocol,
        balance=args.balance, seed=args.seed, learning_rate=args.learning_rate, patience=args.patience,
        output=args.output, threshold=args.threshold, max_train_images=args.max_train_images,
        deterministic=args.deterministic, tensorboard=args.tensorboard, hparams=hparams, augment=not args.no_augment,
        stain=args.stain, labels=args.labels,
    )
    if args.cpu_devices > 1:
        from .models.runtime import split_cpu

        split_cpu(args.cpu_devices)
    metrics = train(config, args.out, if_exists=args.if_exists, verbose=2 if args.quiet else "auto",
                    strategy=args.strategy)
    keys = ("model", "protocol", "epochs_run", "threshold", "roc_auc", "balanced_accuracy", "sensitivity",
            "specificity", "accuracy")
    print(json.dumps({k: metrics[k] for k in keys} | {"run_dir": str(args.out)}, indent=2))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`evaluate`: a saved model on every image of a dataset, written as JSON."""
    from .files import write_json_atomic
    from .training.inference import evaluate

    result = evaluate(args.model, args.dataset, args.data_dir, seed=args.seed)
    write_json_atomic(args.out, result)
    print(json.dumps({k: result[k] for k in ("n_images", "n_patients", "threshold", "roc_auc",
                                              "balanced_accuracy", "brier", "ece")} | {"out": str(args.out)}, indent=2))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """`predict`: a CSV row per readable image; skipped files are reported on stderr."""
    from .training.inference import predict

    frame, skipped = predict(args.model, args.paths)
    text = frame.to_csv(index=False, float_format="%.6f")
    if args.out:
        from .files import write_text_atomic

        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    for item in skipped:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(f"{len(frame)} predicted, {len(skipped)} skipped", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """`run`: every notebook in order with papermill, then the report."""
    import yaml

    from .course.runner import parse_value, run_all

    params: dict = {}
    if args.params_file:
        loaded = yaml.safe_load(Path(args.params_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise WorkbookError(f"{args.params_file} must hold a mapping of NAME: value")
        params.update(loaded)
    params.update({name: parse_value(value) for name, value in args.param})
    leak = [m for m in args.leak_models.split(",") if m] if args.leak_models is not None else None
    run_all(args.out, args.dataset, args.data_dir, params, leak, args.jobs, leakage=not args.no_leakage)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """`bench`: measure and print (and write) the speed figures, or render a bench file as markdown."""
    from .bench.measure import main as bench
    from .bench.render import render

    if args.render:
        sys.stdout.write(render(json.loads(args.render.read_text()), args.render.as_posix()))
        return 0
    bench(args.quick, args.out, args.dataset, args.data_dir, tuple(args.models.split(",")))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """`compare`: two runs on the same test images, by patient; prints (and writes) the JSON."""
    from .evaluation.paired import compare_runs
    from .files import write_json_atomic

    result = compare_runs(args.run_a, args.run_b, n_boot=args.n_boot, seed=args.seed)
    if args.out:
        write_json_atomic(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    """`book`: the course book of an executed run, a static site that reads offline."""
    from .course.book import build_book

    print(f"book: {build_book(args.run, args.out)}")
    return 0


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="sample", choices=list(DATASETS), help="which dataset layout")
    p.add_argument("--data-dir", type=Path, default=None, help="the dataset's folder (default: under data/)")


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong option reported in one line (the valid choices included) and status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job."""
    parser = _Parser(prog="python -m bc_helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a dataset folder and print a JSON summary")
    _add_data_args(p)
    p.add_argument("--strict", action="store_true", help="any problem in the data is an error")
    p.add_argument("--magnification", default="400X", help="BreaKHis_v1 tree: 40X, 100X, 200X or 400X")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("sample", help="write the built-in SYNTHETIC sample into a new folder")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, help="default: the built-in sample's (the one `make run` uses)")
    p.add_argument("--patients", type=int, help="IDC-like patients; default: the built-in sample's")
    p.add_argument("--update", action="store_true", help="keep a sample with these settings at --out, replace one "
                   "an older generator wrote there (never a folder holding anything else)")
    p.set_defaults(func=cmd_sample)

    from .runs.config import (
        BALANCES,
        IF_EXISTS,
        LABELS,
        OUTPUTS,
        PROTOCOLS,
        STAINS,
        STRATEGIES,
        THRESHOLD_METHODS,
        TrainConfig,
    )

    d = TrainConfig()
    p = sub.add_parser("train", help="train one model into a run folder, evaluate it on the test part")
    _add_data_args(p)
    p.add_argument("--model", required=True,
                   help="cnn, lstm, gru, vgg16, resnet50 or cnn_lstm; a name registered with "
                   "@bc_helpers.models.register_model; or package.module:function (a builder taking image_size and "
                   "keyword hyperparameters; the module must be importable, e.g. on PYTHONPATH)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--image-size", type=int, default=d.image_size, help="side in pixels the model works at")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--protocol", default=d.protocol, choices=PROTOCOLS,
                   help="patient (honest), paper (image-level, leaks), kaggle (BreaKHis folders, leaks)")
    p.add_argument("--balance", default=d.balance, choices=BALANCES)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience (epochs)")
    p.add_argument("--output", default=d.output, choices=OUTPUTS)
    p.add_argument("--threshold", default=d.threshold, choices=THRESHOLD_METHODS,
                   help="how the decision threshold is chosen on validation data")
    p.add_argument("--max-train-images", type=int, default=None, help="subsample the training part (quick runs)")
    p.add_argument("--hparams", default="", help='model hyperparameters as JSON, e.g. \'{"lstm_units": 64}\'')
    p.add_argument("--no-augment", action="store_true", help="no random rotation, flips or zoom in training")
    p.add_argument("--stain", default=d.stain, choices=STAINS, help="augment: H&E stain jitter in HED space "
                   "(training only); normalise: Reinhard normalisation to the training images' mean statistics")
    p.add_argument("--labels", default=d.labels, choices=LABELS,
                   help="random: the control that can only see patients (each patient one random label, class "
                        "shares kept, seeded by --seed)")
    p.add_argument("--deterministic", action="store_true", help="TensorFlow op determinism (slower)")
    p.add_argument("--tensorboard", action="store_true")
    p.add_argument("--if-exists", default="error", choices=IF_EXISTS, help="when --out holds another run")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    p.add_argument("--strategy", default="auto", choices=STRATEGIES,
                   help="tf.distribute strategy (auto: TF_CONFIG -> multiworker, several GPUs -> mirrored)")
    p.add_argument("--cpu-devices", type=int, default=1, help="split the CPU into N logical devices (to try "
                   "tf.distribute without GPUs)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a saved model on every image of a dataset")
    p.add_argument("--model", type=Path, required=True, help="RUN_DIR/model.keras")
    _add_data_args(p)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict image files or folders; CSV on stdout (or --out)")
    p.add_argument("--model", type=Path, required=True, help="RUN_DIR/model.keras")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=None)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("run", help="run every notebook with papermill, several at once, then write the report")
    p.add_argument("--dataset", action="append", choices=list(DATASETS),
                   help="repeat for several (default: sample and sample_breakhis, both SYNTHETIC)")
    p.add_argument("--data-dir", type=Path, default=None, help="the dataset's folder (with one --dataset)")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a notebook parameter, e.g. -p EPOCHS 20 (values read as YAML)")
    p.add_argument("-f", "--params-file", type=Path, default=None, help="YAML file of NAME: value")
    p.add_argument("--leak-models", default=None,
                   help="models also trained on the paper's split, comma-separated (default cnn_lstm, whose "
                        "notebook also trains its ablation's CNN arm there)")
    p.add_argument("--no-leakage", action="store_true",
                   help="skip the leakage study (CNN and CNN-LSTM by patient and by image, true and random labels, "
                        "2 folds x 2 repeats per dataset) that writes leakage.json")
    p.add_argument("--out", type=Path, default=Path("runs/workbook"), help="where runs, notebooks and report go")
    p.add_argument("--jobs", type=int, default=2,
                   help="notebooks run at once, each in its own kernel (default 2; 1: one after another)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", help="measure input, training and inference speed and memory; table and JSON")
    p.add_argument("--quick", action="store_true", help="a few steps per model (seconds, for tests)")
    p.add_argument("--models", default=",".join(MODEL_NAMES),
                   help="comma-separated models to measure (default: all six; cnn_lstm is always measured)")
    p.add_argument("--out", type=Path, default=None, help="JSON file to write")
    p.add_argument("--render", type=Path, default=None, metavar="FILE.json",
                   help="print the README's speed figures (markdown) from a bench JSON file; measures nothing")
    _add_data_args(p)
    p.set_defaults(func=cmd_bench)

    from .course.cells import notebooks_command

    p = sub.add_parser("notebooks", help="regenerate the notebooks' badges and setup cell from pyproject's address")
    p.add_argument("--sync", action="store_true", help="rewrite the notebooks that differ (default: only check)")
    p.set_defaults(func=notebooks_command)

    p = sub.add_parser("compare", help="two runs on the same test images: a paired bootstrap by patient (interval, "
                       "p-value, and whether the test patients can decide)")
    p.add_argument("run_a", type=Path, help="a run folder (predictions.csv, metrics.json)")
    p.add_argument("run_b", type=Path, help="another run folder with the same test images")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws (patients resampled)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--out", type=Path, default=None, help="JSON file to write")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("book", help="build the course book (a static site that reads offline) from an executed run")
    p.add_argument("--run", type=Path, default=Path("runs/sample"), help="an executed run (`run --out`'s folder)")
    p.add_argument("--out", type=Path, default=Path("_build/book"), help="where the site goes (its index.html)")
    p.set_defaults(func=cmd_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; a WorkbookError is printed without a traceback and exits with status 2."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
