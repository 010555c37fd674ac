"""The main job behind ``ptycho-harness run``: validate, infer under guards, benchmark, report.

Each step writes its own file into the run folder as soon as it finishes, so that an
interrupted run keeps what it had. The verdict is the conjunction of the steps' checks.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.adapter import PipelineAdapter, load_adapter
from harness.cli import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE
from harness.manifest import Manifest, RunTerminated
from harness.runfolder import RunFolder, create_run_folder
from harness.summary import StepOutcome, render_summary

logger = logging.getLogger(__name__)


INFERENCE_SEED = 0


@dataclass(frozen=True)
class MainJobOptions:
    """Options of one run; a ``None`` path means the adapter's shipped default."""

    dataset: Path | None
    checkpoint: Path | None
    reports_root: Path
    adapter_name: str = "reference"
    batch_size: int = 64
    run_benchmarks: bool = True
    run_properties: bool = True
    command: tuple[str, ...] = ("ptycho-harness", "run")


@dataclass
class MainJobState:
    """Results of the steps so far, from which the summary is rendered."""

    folder: RunFolder
    dataset: Path | None = None
    checkpoint: Path | None = None
    steps: list[StepOutcome] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def record(self, step: StepOutcome) -> None:
        self.steps.append(step)
        level = logging.INFO if step.passed else logging.WARNING
        logger.log(level, "%s: %s", step.name, step.detail)


def run_main_job(options: MainJobOptions) -> int:
    """Run every step of the main job into a new run folder and return the exit status."""
    if options.batch_size < 1:
        print(f"ptycho-harness run: --batch-size must be >= 1, got {options.batch_size}", file=sys.stderr)
        return EXIT_USAGE
    try:
        adapter = load_adapter(options.adapter_name)
    except (LookupError, TypeError) as error:
        print(f"ptycho-harness run: {error}", file=sys.stderr)
        return EXIT_USAGE

    dataset = options.dataset or adapter.default_dataset()
    checkpoint = options.checkpoint or adapter.default_checkpoint()
    input_error = _check_inputs_exist(dataset, checkpoint)
    if input_error:
        print(f"ptycho-harness run: {input_error}", file=sys.stderr)
        return EXIT_USAGE
    assert dataset is not None
    # Validation runs before the run folder exists, so an unreadable file leaves no folder.
    try:
        report = _read_contract_report(dataset)
    except ValueError as error:
        print(f"ptycho-harness run: {error}", file=sys.stderr)
        return EXIT_USAGE

    folder = create_run_folder(options.reports_root)
    logger.info("run folder: %s", folder.path)
    state = MainJobState(folder=folder, dataset=dataset, checkpoint=checkpoint)
    state.facts["adapter"] = adapter.name
    status = "failed"
    with Manifest(folder, command=options.command, seeds={"inference": INFERENCE_SEED}) as manifest:
        try:
            _record_validation(state, report)
            if state.steps[-1].passed:
                _run_inference(state, adapter, options.batch_size)
            _write_contracts(state)
            if options.run_properties:
                _run_property_suite(state)
            if options.run_benchmarks:
                _run_benchmarks(state)
            status = "complete" if all(step.passed for step in state.steps) else "failed"
        except (KeyboardInterrupt, RunTerminated):
            status = "interrupted"
            state.record(StepOutcome("interrupted", False, "the run was stopped before it finished"))
            raise
        except Exception as error:
            state.record(StepOutcome("crashed", False, f"{type(error).__name__}: {error}"))
            raise
        finally:
            if not state.folder.file_path("contracts.json").exists():
                _write_contracts(state)
            _write_summary(state, status)
        if status != "complete":
            manifest.finish(status)

    verdict = "PASSED" if status == "complete" else "FAILED"
    failed = [step.name for step in state.steps if not step.passed]
    tail = f" (failed: {', '.join(failed)})" if failed else ""
    print(f"ptycho-harness run: {verdict}{tail}; report: {folder.path / 'summary.md'}")
    return EXIT_OK if status == "complete" else EXIT_CHECK_FAILED


def _check_inputs_exist(dataset: Path | None, checkpoint: Path | None) -> str | None:
    if dataset is None:
        return "no dataset given and the adapter ships none; pass a dataset path"
    if not dataset.is_file():
        return f"dataset not found: {dataset}"
    if checkpoint is None:
        return "no checkpoint given and the adapter ships none; pass --checkpoint"
    if not checkpoint.is_file():
        return f"checkpoint not found: {checkpoint}"
    return None


def _read_contract_report(dataset: Path) -> Any:
    """Validate ``dataset`` against the contracts, choosing the family by its content.

    Raises:
        ValueError: the file cannot be read. The message gives the reason.
    """
    from contracts.errors import InputError
    from contracts.validate import validate_file

    try:
        return validate_file(dataset)
    except InputError as error:
        raise ValueError(f"cannot read dataset {dataset}: {error}") from error


def _record_validation(state: MainJobState, report: Any) -> None:
    assert state.dataset is not None
    state.facts["contracts"] = report.to_dict()
    detail = (
        f"{report.rules_checked} rules of family {report.family} checked on {state.dataset.name}: "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    )
    passed = report.ok
    if report.family != "DATASET":
        passed = False
        detail += (
            f"; run needs a canonical DATASET file, so convert this {report.family} file first "
            "(ptycho-harness convert IN OUT)"
        )
    state.record(StepOutcome("validate", passed, detail))


def _run_inference(state: MainJobState, adapter: PipelineAdapter, batch_size: int) -> None:
    from contracts import guards
    from contracts.errors import ContractViolationError
    from tqdm import tqdm

    from harness.inference import predict_and_stitch, write_stitched_object

    assert state.dataset is not None and state.checkpoint is not None
    with guards.recording() as guard_records:
        try:
            checkpoint_info = adapter.load_checkpoint(state.checkpoint)
            outcome = predict_and_stitch(
                adapter, state.dataset, batch_size, progress=lambda batches: tqdm(batches, desc="inference", unit="batch")
            )
        except ContractViolationError as error:
            state.record(StepOutcome("inference", False, f"a contract guard stopped inference: {error}"))
            return
        finally:
            _record_guard_stages(state, guard_records)

    stitched = outcome.stitched
    write_stitched_object(
        state.folder, stitched, {"dataset": str(state.dataset), "checkpoint": str(state.checkpoint)}
    )
    inference = {
        "checkpoint": str(state.checkpoint),
        "checkpoint_info": _jsonable(asdict(checkpoint_info)),
        "n_patterns": outcome.n_patterns,
        "batch_size": batch_size,
        "seconds": outcome.seconds,
        "patterns_per_second": outcome.n_patterns / outcome.seconds if outcome.seconds > 0 else None,
        "stage_dtypes": outcome.stage_dtypes,
    }
    state.folder.write_json("inference.json", inference)
    state.facts["inference"] = inference
    state.record(
        StepOutcome(
            "inference",
            True,
            f"{outcome.n_patterns} patterns in {outcome.seconds:.2f} s; stitched object "
            f"{stitched.obj.shape[0]}x{stitched.obj.shape[1]} {stitched.obj.dtype}",
        )
    )
    _compare_with_truth(state, stitched)


def _record_guard_stages(state: MainJobState, guard_records: list[Any]) -> None:
    state.facts["guard_stages"] = [record.to_dict() for record in guard_records]


def _write_contracts(state: MainJobState) -> None:
    document = {
        "file": state.facts.get("contracts"),
        "stages": state.facts.get("guard_stages", []),
    }
    state.folder.write_json("contracts.json", document)


def _compare_with_truth(state: MainJobState, stitched: Any) -> None:
    from harness.quality import compare_with_truth

    assert state.dataset is not None
    with np.load(state.dataset, allow_pickle=False) as data:
        if "objectGuess" not in data.files:
            state.facts["quality"] = None
            return
        true_object = data["objectGuess"]
    quality = compare_with_truth(stitched, true_object)
    beats_trivial = quality.beats_trivial
    quality_dict = _jsonable(asdict(quality))
    state.folder.write_json("quality.json", quality_dict)
    state.facts["quality"] = quality_dict
    state.record(
        StepOutcome(
            "reconstruction quality",
            beats_trivial,
            f"amplitude error {quality.amplitude_error:.3f} (trivial guess "
            f"{quality.trivial_amplitude_error:.3f}), phase error {quality.phase_error_rad:.3f} rad "
            f"(trivial guess {quality.trivial_phase_error_rad:.3f} rad) over {quality.n_pixels} pixels",
        )
    )


def _run_property_suite(state: MainJobState) -> None:
    from harness.properties import run_property_suite

    result = run_property_suite(state.folder)
    state.facts["properties"] = {"collected": result.collected, "passed": result.passed, "failed": list(result.failed)}
    detail = f"{result.passed} of {result.collected} contract properties held; see properties.log"
    if result.failed:
        detail += f"; failed: {', '.join(result.failed[:5])}"
    state.record(StepOutcome("contract properties", result.ok, detail))


def _run_benchmarks(state: MainJobState) -> None:
    from harness.bench import run_benchmarks

    result = run_benchmarks(state.folder)
    state.facts["benchmarks"] = [asdict(row) for row in result.rows]
    passed = result.exit_code == 0 and bool(result.rows)
    detail = f"{len(result.rows)} benchmarks, pytest exit status {result.exit_code}; see benchmark.json"
    state.record(StepOutcome("benchmarks", passed, detail))


def _write_summary(state: MainJobState, status: str) -> None:
    text = render_summary(
        run_id=state.folder.run_id,
        status=status,
        dataset=state.dataset,
        checkpoint=state.checkpoint,
        steps=state.steps,
        facts=state.facts,
        files=sorted(path.name for path in state.folder.path.iterdir() if path.is_file()),
    )
    state.folder.write_text("summary.md", text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
