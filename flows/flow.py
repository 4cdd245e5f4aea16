"""The proseflow flow: read (map) -> triage (reduce) -> process (map) -> commit, batch by batch.

The flow process only orchestrates: every per-document step runs in the tasks of `flows.prefect_tasks`,
wherever the task runner puts them, and the flow folds their small reports into the run.
"""

from __future__ import annotations

import contextlib
import math
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.dataset as ds
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TagsContext
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote  # run state: not for Prefect to walk

from proseflow.flows import reporting
from proseflow.flows.prefect_tasks import (
    RETRIED,
    BatchReport,
    Items,
    ReadReport,
    discover,
    process,
    read,
    read_stored,
    read_work,
)
from proseflow.flows.runtime import preload
from proseflow.flows.state import RunState, Stopwatch
from proseflow.tasks import catalog, links, run_report, triage
from proseflow.tasks import stats as stats_stage
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import UsageError
from proseflow.tasks.report import import_charts
from proseflow.tasks.schema import DOCUMENTS, NUMERIC_COLUMNS
from proseflow.tasks.store.output import Output

FROM_RAW_ALL = "*"


def source_label(sources: list[str], from_raw: str | None = None) -> str:
    """A short name for what a run reads: the first source's last path part (+N for more)."""
    if from_raw is not None:
        return "reprocess-all" if from_raw == FROM_RAW_ALL else f"reprocess-{from_raw[:8]}"
    first = PurePosixPath(str(sources[0]).rstrip("/")).name or str(sources[0])
    return first + (f"+{len(sources) - 1}" if len(sources) > 1 else "")


def run_name() -> str:
    """Flow run name: source and UTC start time, e.g. `seeds-20261125T084000`."""
    params = flow_run.parameters
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{source_label(params.get('sources') or ['?'], params.get('from_raw'))}-{stamp}"


@flow(name="proseflow", flow_run_name=run_name, persist_result=False, validate_parameters=False)
def pipeline(
    sources: list[str],
    output: str = "outputs",
    config: PipelineConfig | dict | None = None,
    from_raw: str | None = None,
) -> dict:
    """Turn the documents under SOURCES (or, with from_raw, stored raw bytes) into committed datasets."""
    config = as_config(config)

    with task_runs_untagged():
        state = RunState.open(str(flow_run.id), flow_run.name, sources, output, config)
        try:
            reads = read_all(state, from_raw)
            verdicts = triage_all(state, reads)
            boilerplate = repeated_lines(state, reads, verdicts)
            preload(import_charts)  # for the commit, while the batches run
            for report in process_all(state, reads, verdicts, boilerplate):
                state.fold_batch(report)
                reporting.batch_done(state, report)
            release_workers()
            summary = commit(state)
        except BaseException as exc:
            stop_tasks()
            state.fail(_one_line(exc))
            raise
        finally:
            state.close()
    reporting.publish(summary, state.report)
    return summary


def as_config(config: PipelineConfig | dict | None) -> PipelineConfig:
    """Deployments pass the configuration as JSON; runs started from Python pass the object."""
    if isinstance(config, PipelineConfig):
        return config
    return PipelineConfig.from_dict(config or {})


def read_all(state: RunState, from_raw: str | None) -> list[ReadReport]:
    """Map: read, hash, decode and profile every batch of inputs (or of stored raw rows)."""
    config, target = state.config, state.target
    if from_raw is not None:
        doc_ids = stored_doc_ids(state.output, from_raw)
        chunks = chunked(doc_ids, even_batch_size(len(doc_ids), config))
        calls = [
            (read_stored, (state.output.url, Items(chunk), config, target, f"b{i:05d}"))
            for i, chunk in enumerate(chunks)
        ]
    else:
        with Stopwatch(state, "discover"):
            discovery = discover(state.sources, config)
        state.fold_discovery(discovery)
        state.unread = discovery.rejects
        chunks = input_batches(discovery.inputs, config)

        calls = [
            (read, (Items(chunk), config, target, f"b{i:05d}")) for i, chunk in enumerate(chunks)
        ]
    reports = list(mapped("read", calls))
    for report in reports:
        state.fold_read(report)
    return reports


def input_batches(refs: list, config: PipelineConfig) -> list[list]:
    """Inputs in order, cut into batches of at most batch_size files and batch_bytes bytes.

    The files are spread evenly over the batches: see `even_batch_size`.
    """
    most = even_batch_size(len(refs), config)
    batches: list[list] = [[]]
    size = 0
    for ref in refs:
        bytes_ = ref.size or 0
        if batches[-1] and (len(batches[-1]) >= most or size + bytes_ > config.batch_bytes):
            batches.append([])
            size = 0
        batches[-1].append(ref)
        size += bytes_
    return [b for b in batches if b]


def even_batch_size(n: int, config: PipelineConfig) -> int:
    """Items per batch for N items: batch_size at most, and batches of near-equal size in rounds
    of one batch per worker, so that no worker idles through a short last round.

    N up to batch_size is one batch, which the flow runs in its own process. Each task run costs
    Prefect some 0.5 s of CPU, so a batch is as large as batch_size allows: 8,900 items in 500s
    made 18 batches, with batch_size 2,000 and 2 workers they are 6 of 1,484.
    """
    if n <= config.batch_size:
        return max(n, 1)
    rounds = math.ceil(n / (config.batch_size * config.workers))
    return math.ceil(n / (rounds * config.workers))


def chunked(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def stored_doc_ids(output: Output, from_raw: str) -> list[str]:
    """doc_ids of the stored raw rows to reprocess, in source_uri order."""
    wanted = None if from_raw == FROM_RAW_ALL else run_doc_ids(output, from_raw)
    filter_ = None
    if wanted is not None:
        filter_ = ds.field("doc_id").isin(pa.array(sorted(wanted), pa.string()))
    table = output.read("raw", ["doc_id", "source_uri"], filter=filter_)
    return table.sort_by([("source_uri", "ascending"), ("doc_id", "ascending")])[
        "doc_id"
    ].to_pylist()


def run_doc_ids(output: Output, run_id: str) -> set[str]:
    """doc_ids a run committed as documents or rejected after decoding."""
    runs = output.read("runs", ["run_id"])["run_id"].to_pylist()
    if run_id not in runs:
        raise UsageError(f"run {run_id} is not in {output.url}/runs; `proseflow runs` lists them")
    same = ds.field("run_id") == run_id
    docs = output.read("documents", ["doc_id"], filter=same)["doc_id"].to_pylist()
    rejects = output.read("rejects", ["doc_id"], filter=same & ds.field("doc_id").is_valid())
    return set(docs) | set(rejects["doc_id"].to_pylist())


def parts_of(reads: list[ReadReport]) -> list:
    return [part for report in reads for part in report.parts]


def triage_all(state: RunState, reads: list[ReadReport]) -> triage.Verdicts:
    """Reduce: decide, in input order, which documents are new work; stage the rest as rejects."""
    with Stopwatch(state, "ingest"):
        unread = [state.unread] + [report.unread for report in reads]
        unread_table = pa.concat_tables([t for t in unread if t is not None])
        verdicts = triage.triage([p.rows for p in parts_of(reads)], unread_table, state.index)
        state.fold_verdicts(verdicts)
    return verdicts


def repeated_lines(state: RunState, reads: list[ReadReport], verdicts: triage.Verdicts) -> pa.Table:
    """Reduce: merge the parts' line counts into each collection's boilerplate lines."""
    parts = parts_of(reads)

    def line_keys(part: int, rows: list[int]) -> pa.Table:
        return read_work(parts[part].path, rows, ["collection", "line_keys"])

    with Stopwatch(state, "clean"):
        profiles = [(p.rows, p.profile) for p in parts]
        return triage.boilerplate(profiles, verdicts.process, line_keys, state.config)


def process_all(
    state: RunState, reads: list[ReadReport], verdicts: triage.Verdicts, boilerplate: pa.Table
) -> Iterator[BatchReport]:
    """Map: one process task per part with new work; reports come back in input order."""
    parts = parts_of(reads)
    todo = [i for i, p in enumerate(parts) if verdicts.process[i] or verdicts.new_raw[i]]
    calls = [
        (
            process,
            (
                parts[i],
                Items(verdicts.process[i]),
                Items(verdicts.new_raw[i]),
                boilerplate,
                state.config,
                state.target,
            ),
        )
        for i in todo
    ]
    for i, report in zip(todo, mapped("process", calls), strict=True):
        Path(parts[i].path).unlink(missing_ok=True)  # its rows are staged now
        yield report
    for part in parts:
        Path(part.path).unlink(missing_ok=True)


def mapped(name: str, calls: list[tuple]) -> Iterator:
    """Run one task run per (task, args), results in order: on the task runner, or here for one.

    A single batch gains nothing from a worker process, which would first spend a second or two
    importing Prefect and loading word lists that this process has loaded already. Arguments are
    passed as they are: Dask takes Prefect's `quote` wrapper for a tuple and would unwrap it wrongly.
    """
    named = [
        (task_.with_options(name=f"{name} [{n + 1}/{len(calls)}]"), args)
        for n, (task_, args) in enumerate(calls)
    ]
    if len(named) == 1:
        task_, args = named[0]
        yield task_(*args)
        return
    futures = [task_.submit(*args) for task_, args in named]
    for future in futures:
        yield future.result()


def commit(state: RunState) -> dict:
    """Link near-duplicates, write the run's final files, then make them visible in one commit,
    runs row last.

    The runs row's `commit` seconds cover the final files; the renames and the catalog follow it.
    A catalog that cannot be refreshed is rebuilt by the next run or `proseflow catalog`.
    """
    linked = None
    if state.config.near_duplicates == "on":
        with Stopwatch(state, "near_duplicates"):
            linked, state.near_duplicates = link(quote(state))
    with Stopwatch(state, "commit"):
        corpus = finalize(quote(state), quote(linked))
    with Stopwatch(state, "report"):
        try:
            state.report = write_report(quote(state))
        except Exception as exc:  # the data is whole without its report: never lose it for one
            reporting.warn(
                f"report not written ({_one_line(exc)}); run `proseflow report --run {state.run_id}`"
            )
    try:
        state.staging.commit(state.runs_row("completed"))
    except OSError:  # the journal is written: finishing the renames is safe to do again
        state.staging.roll_forward()
    try:
        catalog.refresh(state.output)
    except Exception as exc:  # the data is committed; the catalog is only views over it
        reporting.warn(f"catalog not refreshed ({_one_line(exc)}); run `proseflow catalog`")
    return reporting.summary(state, corpus)


@task(name="near-duplicates", cache_policy=NO_CACHE, **RETRIED)
def link(state: RunState) -> tuple[pa.Table | None, dict | None]:
    """The run's near_duplicates rows (staged too) and their counts per collection of its new
    documents; (None, None) when it has no new signatures."""
    staging = state.staging
    staging.finalize("signatures", ["doc_id"])
    new = links.staged_signatures(staging.final_files("signatures"))
    if new.num_rows == 0:
        return None, None
    committed = links.committed_signatures(state.output, state.fingerprint)
    rows = links.link(
        committed, new, state.config.near_duplicate_threshold, state.run_id, state.fingerprint
    )
    staging.stage_final("near_duplicates", rows)
    return rows, links.counts(rows, new)


@task(name="commit", cache_policy=NO_CACHE, **RETRIED)
def finalize(state: RunState, linked: pa.Table | None) -> pa.Table:
    """Order the staged datasets, summarise the corpus and the terms into final files.

    The raw bytes and the rejects are ordered in a second thread meanwhile: the workers have ended,
    and Arrow and DuckDB let go of the GIL while they read, sort, compress and write.
    """
    staging = state.staging
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="proseflow-commit") as other:
        others = other.submit(_finalize_raw_and_rejects, staging)
        staging.finalize("documents", ["doc_id"])
        corpus = _summaries(state, linked)
        others.result()
    return corpus


def _finalize_raw_and_rejects(staging) -> None:
    staging.finalize("raw", ["doc_id"])
    staging.finalize("rejects", ["source_uri", "reason"])


def _summaries(state: RunState, linked: pa.Table | None) -> pa.Table:
    """Stage the run's corpus_stats and terms from its final documents and term counts."""
    staging = state.staging
    duplicates = None if linked is None else links.duplicate_ids(linked)
    corpus = stats_stage.corpus_stats(
        staged_documents(state), state.run_id, state.fingerprint, NUMERIC_COLUMNS, duplicates
    )
    staging.stage_final("corpus_stats", corpus)
    terms = [state.terms] if state.terms is not None else []
    staging.stage_final(
        "terms",
        stats_stage.top_terms(terms, state.run_id, state.fingerprint, state.config.top_terms),
    )
    return corpus


@task(name="report", cache_policy=NO_CACHE, **RETRIED)
def write_report(state: RunState) -> run_report.Report:
    """Stage the run's report page: its distributions, and drift against the previous run."""
    staging = state.staging
    documents, rejects = run_report.staged_run(
        staging.final_files("documents"), staging.final_files("rejects")
    )
    run = state.runs_row("completed").to_pylist()[0]
    built = run_report.build(state.output, run, documents, rejects, state.near_duplicates)
    staging.stage_report(built.html)
    return built


def staged_documents(state: RunState) -> pa.Table | ds.Dataset:
    """The run's final documents (ordered by doc_id) as a dataset over the staged files."""
    files = state.staging.final_files("documents")
    if not files:
        return DOCUMENTS.empty_table()
    return ds.dataset(files, schema=DOCUMENTS, format="parquet")


@contextlib.contextmanager
def task_runs_untagged() -> Iterator[None]:
    """Task runs started in the block carry none of the flow run's tags.

    Prefect asks its API for a concurrency slot of every tag of a task run before running it,
    and holds a lease on it: with the run's two tags, against a server whose SQLite database
    the batches' logs and events keep busy, that took up to 2 s a task run. The flow run keeps
    its tags (filter runs by them); a task run is found through its flow run.
    """
    with TagsContext(current_tags=set()):
        yield


def stop_tasks() -> None:
    """Cancel queued batch tasks and wait for running ones, so none writes after staging is gone."""
    cancel = getattr(_task_runner(), "cancel_all", None)
    if cancel is not None:
        cancel()


def release_workers() -> None:
    """End the worker processes once every batch is back: what follows runs in this process, and
    idle workers would only hold their memory through the commit (see ProcessPool.release)."""
    release = getattr(_task_runner(), "release", None)
    if release is not None:
        release()


def _task_runner():
    context = FlowRunContext.get()
    return context.task_runner if context else None


def _one_line(exc: BaseException) -> str:
    """What the runs row records of a failure: its type and the first line of its message."""
    if isinstance(exc, KeyboardInterrupt):
        signal_ = "SIGTERM" if getattr(exc, "exit_code", None) == 143 else "Ctrl-C"
        return f"interrupted ({signal_})"
    # format_exception_only puts an exception's notes after its message: take the message
    message = traceback.format_exception_only(type(exc), exc)[0].strip()
    return message.splitlines()[0][:500]
