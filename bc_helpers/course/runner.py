"""`python -m bc_helpers run`: every notebook with papermill, several at once, then a report.

Executed copies go under RUN_DIR/notebooks/ (the sources are never written), each also rendered as HTML beside
it, training runs under RUN_DIR/<dataset>/<protocol>/<model>/, and the report to RUN_DIR/report.html and report.md.
Notebook 08's grid search runs on the patient split only; its chosen setting is passed to 08's leaky runs.
The leakage study (training.leakstudy, a step of its own per dataset, no notebook) trains the CNN and the CNN-LSTM
by patient and by image on true and on random labels, scored on the same images; leakage.json at RUN_DIR's root
gathers its rows for 09 and the report.
`jobs` notebooks run at once, each in its own kernel, in an order that respects what one needs of another
(`needs`): much of a notebook's time is single-threaded (starting a kernel, Keras tracing a model), which a
second notebook overlaps.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import paths
from ..data.registry import facts
from ..errors import WorkbookError
from ..evaluation.leakage import merge_leakage
from ..runs.catalogue import MODEL_NOTEBOOKS, NOTEBOOK_COST
from ..runs.tuning import TUNED_PROTOCOL, load_choice

DEFAULT_DATASETS = ("sample", "sample_breakhis")
# 08 under the dataset's leaky protocol: the paper's setting reproduced beside the patient split. Its ablation is
# left to the patient split's run (SEEDS=[]): the leakage study measures the leak for the CNN and the CNN-LSTM on
# the same images, which two separately split runs cannot.
DEFAULT_LEAK_MODELS = ("cnn_lstm",)
STUDY = "leakage"  # the leakage study's steps: no notebook, run by training.leakstudy
# A kernel whose C-level stderr (TensorFlow's start-up logs) stays out of the terminal; ipykernel still
# captures it into the executed notebook.
QUIET_KERNEL = ("import os; os.dup2(os.open(os.devnull, os.O_WRONLY), 2); "
                "from ipykernel import kernelapp; kernelapp.launch_new_instance()")
TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "str": str, "bool": bool,
                                             "dict": dict, "list": list}


@dataclass
class Step:
    notebook: str  # stem, e.g. "03_cnn"
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        tags = [str(self.params[k]) for k in ("DATASET", "PROTOCOL") if k in self.params]
        return "-".join([self.notebook, *tags])


def notebooks_dir() -> Path:
    return paths.repo_root() / "notebooks"


def plan(datasets: list[str], leak_models: list[str], leakage: bool = True) -> list[Step]:
    """The whole workbook: index, exploration, preprocessing, the six models on each dataset (patient split),
    the leak check (the paper's split) for `leak_models`, the leakage study on each dataset (`leakage`), and the
    comparison. The leak check repeats a notebook under the image split; its exercises' solution cells already ran
    in the patient-split run, and are skipped, and so is its ablation (the patient split's run has one)."""
    first = datasets[0]
    steps = [Step("00_index"), Step("01_data_exploration", {"DATASET": first}),
             Step("02_preprocessing_and_balancing", {"DATASET": first})]
    for dataset in datasets:
        steps += [Step(nb, {"DATASET": dataset, "PROTOCOL": "patient"}) for nb in MODEL_NOTEBOOKS.values()]
        steps += [Step(MODEL_NOTEBOOKS[m], {"DATASET": dataset, "PROTOCOL": facts(dataset).leaky_protocol,
                                            "RUN_SOLUTIONS": False, "SEEDS": []}) for m in leak_models]
        steps += [Step(STUDY, {"DATASET": dataset})] if leakage else []
    steps.append(Step("09_comparison", {"DATASETS": list(datasets)}))
    return steps


def needs(step: Step, steps: list[Step]) -> list[Step]:
    """The steps that must finish before `step` starts: 08 under a leaky protocol trains the setting that 08 on
    the patient split chose; 06 on one dataset pretrains its backbone in the other dataset's VGG-16 folder, so
    the two 06 runs take turns; 09 reads every run."""
    before = steps[:steps.index(step)]
    if step.notebook == "09_comparison":
        return before
    if step.notebook == MODEL_NOTEBOOKS["cnn_lstm"] and step.params.get("PROTOCOL", TUNED_PROTOCOL) != TUNED_PROTOCOL:
        return [s for s in before if s.notebook == step.notebook and s.params.get("PROTOCOL") == TUNED_PROTOCOL
                and s.params.get("DATASET") == step.params.get("DATASET")]
    if step.notebook == MODEL_NOTEBOOKS["vgg16"]:
        return [s for s in before if s.notebook == step.notebook]
    return []


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """The names, types and defaults of a notebook's `parameters` cell (papermill's inspection)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def parse_value(text: str) -> object:
    """A -p value as YAML reads it: 3 -> int, 0.5 -> float, true -> bool, null -> None, else a string."""
    return yaml.safe_load(text) if text != "" else ""


def check_parameters(user: dict, steps: list[Step]) -> None:
    """Refuse unknown names and values of the wrong type before anything runs."""
    declared: dict[str, dict] = {}
    for step in {s.notebook for s in steps} - {STUDY}:
        for name, info in declared_parameters(notebooks_dir() / f"{step}.ipynb").items():
            declared.setdefault(name, info)
    for name, value in user.items():
        if name not in declared:
            raise WorkbookError(f"unknown parameter {name!r}: the notebooks declare {', '.join(sorted(declared))}")
        expected = declared[name]["inferred_type_name"].replace(" ", "")
        kinds = [TYPES[t] for t in expected.split("|") if t in TYPES]
        if value is None and "None" in expected:
            continue
        if kinds and not any(isinstance(value, k) and not (k is int and isinstance(value, bool)) for k in kinds):
            raise WorkbookError(f"parameter {name} expects {expected}, got {value!r} ({type(value).__name__})")


@contextmanager
def this_kernel(folder: Path) -> Iterator[None]:
    """Run notebooks with this environment's Python whatever kernels the user has: a `python3`
    kernelspec for sys.executable, first on JUPYTER_PATH."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", QUIET_KERNEL, "--log-level=ERROR", "-f", "{connection_file}"],
        "display_name": "Python 3 (workbook)", "language": "python",
        "env": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"},  # kernels running at once share a GPU's memory
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(folder), old]))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def with_chosen_setting(step: Step, out: Path) -> Step:
    """08 under a leaky protocol trains the setting its patient-split run chose, without a search of its own."""
    protocol = step.params.get("PROTOCOL", TUNED_PROTOCOL)
    if step.notebook != MODEL_NOTEBOOKS["cnn_lstm"] or protocol == TUNED_PROTOCOL:
        return step
    choice = load_choice(out, step.params["DATASET"])
    if choice is None:
        return step
    return Step(step.notebook, {**step.params, "HPARAMS": choice["hparams"],
                                "LEARNING_RATE": choice["learning_rate"], "GRID": {}})


def write_html(notebook: Path) -> Path:
    """The executed notebook as a static HTML page beside it, to read without running it and without a network:
    its MathJax is served from the run folder's _static/ (book.write_notebook_html)."""
    from .book import write_notebook_html

    return write_notebook_html(notebook, notebook.with_suffix(".html"), notebook.parent.parent / "_static")


def execute(step: Step, out: Path, common: dict, folder: Path | None = None) -> Path:
    """One notebook of `folder` (default: the workbook's) with papermill; a failure names the notebook, the
    cell and the error."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = (folder or notebooks_dir()) / f"{step.notebook}.ipynb"
    target = out / "notebooks" / f"{step.label}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    params = {**common, **step.params, "RUN_DIR": str(out), "INTERACTIVE": False}
    params = {k: v for k, v in params.items() if k in declared_parameters(source)}
    try:
        papermill.execute_notebook(str(source), str(target), parameters=params, kernel_name="python3",
                                   cwd=str(source.parent), progress_bar=False)
    except PapermillExecutionError as exc:
        raise WorkbookError(
            f"notebook {source.name} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
            f"{exc.ename}: {exc.evalue}\nThe executed copy, with the error, is {target}"
        ) from exc
    return target


STUDY_COST = 1  # the leakage study of a dataset takes about as long as 07 (runs/catalogue's ranks)


def _cost_rank(step: Step) -> int:
    """Start the longest steps first (08, then 07 and the leakage study, then 06), so that the last to finish are
    short ones."""
    if step.notebook == STUDY:
        return STUDY_COST
    return NOTEBOOK_COST.get(step.notebook, max(NOTEBOOK_COST.values()))


def run_step(step: Step, out: Path, common: dict, folder: Path) -> float:
    """Execute one step and render it as HTML, or run the leakage study of a dataset; returns its seconds (run in
    a worker process)."""
    started = time.perf_counter()
    if step.notebook == STUDY:
        from ..training.leakstudy import run_leakage_study

        run_leakage_study(step.params["DATASET"], out, common.get("DATA_DIR"))
    else:
        write_html(execute(with_chosen_setting(step, out), out, common, folder))
    return time.perf_counter() - started


def run_steps(steps: list[Step], out: Path, common: dict, jobs: int) -> None:
    """Run `steps`, at most `jobs` at once, each once what it `needs` has finished, in the plan's order. The
    first failure stops the run: nothing more starts, the steps already running finish, and it is raised."""
    waiting = list(steps)
    running: dict[Future[float], Step] = {}
    done: set[str] = set()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        while waiting or running:
            ready = sorted((s for s in waiting if all(n.label in done for n in needs(s, steps))), key=_cost_rank)
            for step in ready[:jobs - len(running)]:
                waiting.remove(step)
                running[pool.submit(run_step, step, out, common, notebooks_dir())] = step
                print(f"        {step.label} started", flush=True)
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                step = running.pop(future)
                error = future.exception()
                if error is not None:
                    print(f"[{len(done) + 1:2d}/{len(steps)}] {step.label} FAILED", flush=True)
                    waiting.clear()
                    wait(list(running))
                    raise error
                done.add(step.label)
                if step.notebook == STUDY:
                    merge_leakage(out)  # here, one process at a time: 09 reads every dataset's rows
                print(f"[{len(done):2d}/{len(steps)}] {step.label} done in {future.result():.0f} s", flush=True)


def run_all(out: str | Path, datasets: list[str] | None = None, data_dir: str | None = None,
            params: dict | None = None, leak_models: list[str] | None = None, jobs: int = 2,
            leakage: bool = True) -> Path:
    """Run the workbook into `out`, `jobs` notebooks at once, and write the report; returns report.html's path."""
    from .report import write_report

    out = Path(out).resolve()
    datasets = list(datasets or DEFAULT_DATASETS)
    if data_dir and len(datasets) != 1:
        raise WorkbookError("--data-dir needs exactly one --dataset")
    common = dict(params or {})
    if data_dir:
        common["DATA_DIR"] = str(Path(data_dir).resolve())
    steps = plan(datasets, list(leak_models if leak_models is not None else DEFAULT_LEAK_MODELS), leakage)
    check_parameters(common, steps)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with this_kernel(out / ".kernel"):
        run_steps(steps, out, common, max(1, jobs))
    report = write_report(out, datasets, common, time.perf_counter() - started)
    print(f"report: {report} (and report.md); total {time.perf_counter() - started:.0f} s")
    return report
