"""The `proseflow` command: run, reprocess, runs, catalog, schema, serve and server."""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Sequence

from proseflow.flows import operate, workers
from proseflow.flows.console import plural
from proseflow.flows.environment import quiet_environment
from proseflow.flows.options import (
    add_output,
    add_pipeline_options,
    add_sources,
    check_sources,
    command,
    config_from_args,
)
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import OutputError, ProseflowError, UsageError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C ended
EXIT_TERMINATED = 143  # 128 + SIGTERM (flows.runtime.Terminated)

DESCRIPTION = """\
proseflow turns text documents (news articles, one per file, or records in JSONL/CSV/Parquet)
into Parquet datasets of cleaned text, readability scores and statistics, through a Prefect flow.
Every row carries the run that wrote it; every run is recorded in runs/.
"""

EPILOG = """\
examples:
  proseflow run seeds/                      one folder into ./outputs
  proseflow run 'news/**/*.md' --output out  a glob
  proseflow runs --output out                what ran, when, with which fingerprint
  proseflow reprocess --verify --output out  recompute and compare every stored value

exit codes:
  0 success, 1 failure, 2 usage error, 3 output locked by another run,
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM); an interrupted run is recorded as failed
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn every error into one line and an exit code."""
    quiet_environment(os.environ)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except ProseflowError as exc:
        print(f"proseflow: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return interrupted(exc)
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        print(f"proseflow: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def interrupted(exc: KeyboardInterrupt) -> int:
    """One line for Ctrl-C or SIGTERM, and the exit code a shell gives a process the signal ended."""
    code = getattr(exc, "exit_code", EXIT_INTERRUPTED)
    what = "terminated (SIGTERM)" if code == EXIT_TERMINATED else "interrupted"
    print(f"proseflow: {what}; nothing of this run was committed", file=sys.stderr)
    _reported.set()
    return code


_reported = threading.Event()  # the stop's line is printed


def interrupted_once(exc: KeyboardInterrupt) -> int:
    """`interrupted`, unless its line is already printed: the last words of a stop's deadline."""
    if _reported.is_set():
        return getattr(exc, "exit_code", EXIT_INTERRUPTED)
    return interrupted(exc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proseflow",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"proseflow {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_run(sub)
    _add_reprocess(sub)
    _add_runs(sub)
    _add_catalog(sub)
    _add_sql(sub)
    _add_report(sub)
    _add_schema(sub)
    operate.add_commands(sub)
    return parser


def _version() -> str:
    from proseflow.tasks.provenance import pipeline_version

    return pipeline_version()


# ---------------------------------------------------------------- run


def _add_run(sub) -> None:
    parser = command(
        sub,
        "run",
        cmd_run,
        help="run the pipeline on SOURCE... and commit the results",
        description="Run the proseflow flow on files, folders (recursive), globs or fsspec URLs, and "
        "commit documents/, rejects/, raw/, corpus_stats/, terms/ and a runs/ row to --output. Inputs "
        "already committed with the same pipeline fingerprint are skipped.",
    )
    add_sources(parser)
    add_output(parser)
    add_pipeline_options(parser)
    parser.add_argument("--json", action="store_true", help="print the run summary as JSON")


def execute(
    sources: list[str], output: str, config: PipelineConfig, from_raw: str | None = None
) -> dict:
    """Run the flow in this process, against the configured or a temporary API; its summary.

    Ctrl-C and SIGTERM stop it cleanly: the run is recorded as failed, its workers and its
    temporary API end, and the console shows the one line `main` prints.
    """
    from proseflow.flows import runtime
    from proseflow.flows.console import hide_tracebacks, silenced_while
    from proseflow.tasks import report

    hide_tracebacks()
    # The interpreter's last collection would walk everything the run loaded (seconds on a busy
    # machine) only to free memory the process is about to give back anyway.
    atexit.register(gc.freeze)
    runner = runtime.task_runner(config)
    early = isinstance(runner, runtime.ProcessPool) and workers.many_batches(sources, config)
    # The temporary API's server starts before any other thread (its start runs code in the
    # child); the workers of a run of many batches, forked from this process while it has no
    # other thread either, start right after it and warm up while the flow run starts.
    try:
        with (
            runtime.stop_signals(interrupted_once) as stops,
            silenced_while(lambda: stops.raised),
            runtime.prefect_api(runner.start_early if early else lambda: None),
            runtime.keep_sigterm_handler(),
        ):
            if not early:
                runtime.preload(workers.load_lexicons, report.import_charts)  # batches run here
            return runtime.run_flow(sources, output, config, from_raw, runner)
    finally:
        if early:
            runner.discard_early()


def cmd_run(args: argparse.Namespace) -> int:
    check_sources(args.sources)
    config = config_from_args(args)  # usage errors surface before Prefect is imported
    from proseflow.flows import reporting

    reporting.terminal_bar = reporting.bar_wanted() and not args.json
    started = time.perf_counter()
    summary = execute(list(args.sources), args.output, config)
    print_summary(summary, time.perf_counter() - started, args.json)
    return 0


def print_summary(summary: dict, seconds: float, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dict(summary, seconds=round(seconds, 3)), indent=2, default=str))
        return
    print(
        f"proseflow: {plural(summary['n_documents'], 'document')} written, "
        f"{summary['n_rejects']} rejected, {summary['n_skipped']} skipped of "
        f"{plural(summary['n_inputs'], 'input')} ({plural(summary['n_ignored'], 'other file')} "
        f"ignored) in {seconds:.1f} s"
    )
    if summary.get("report"):
        print(f"proseflow: report in {summary['report']}")
    drift = summary.get("drift") or {}
    if drift.get("flags"):
        print(
            f"proseflow: drift against run {drift['compared_with']}: "
            f"{len(drift['flags'])} flagged (see the report)"
        )
    near = summary.get("near_duplicates")
    if near:
        n = sum(c["near_duplicates"] for c in near.values())
        total = sum(c["documents"] for c in near.values())
        print(
            f"proseflow: {n} of the {plural(total, 'new document')} near-duplicate another "
            "document (near_duplicates/)"
        )
    print(f"proseflow: outputs in {summary['output']} (run {summary['run_id']})")


# ---------------------------------------------------------------- reprocess


def _add_reprocess(sub) -> None:
    parser = command(
        sub,
        "reprocess",
        cmd_reprocess,
        help="re-derive documents from raw/ with the current pipeline, or --verify them",
        description="Re-derive documents from the raw bytes stored in raw/ with the current pipeline "
        "(new rows only where the fingerprint changed). With --verify, recompute the committed documents "
        "and compare every stored value; exit 0 when all are identical, 1 otherwise.",
    )
    add_output(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every stored document (default)")
    which.add_argument("--run", metavar="RUN_ID", help="only the documents this run committed")
    parser.add_argument(
        "--verify", action="store_true", help="recompute and compare; commit nothing"
    )
    add_pipeline_options(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def cmd_reprocess(args: argparse.Namespace) -> int:
    from proseflow.tasks.store.output import Output

    output = Output.open(args.output, create=False)
    config = config_from_args(args)
    if args.verify:
        from proseflow.flows.verify import print_report, verify

        report = verify(output, config, args.run)
        print_report(report, args.json)
        return 0 if report["identical"] else 1
    started = time.perf_counter()
    summary = execute([], args.output, config, from_raw=args.run or "*")
    print_summary(summary, time.perf_counter() - started, args.json)
    return 0


# ---------------------------------------------------------------- runs, catalog, schema


def _add_runs(sub) -> None:
    parser = command(
        sub,
        "runs",
        cmd_runs,
        help="list the runs recorded in an output",
        description="List the runs of an output folder, oldest first: id, name, start, status, counts "
        "and pipeline fingerprint.",
    )
    add_output(parser)
    parser.add_argument("--json", action="store_true", help="print every runs column as JSON lines")


def cmd_runs(args: argparse.Namespace) -> int:
    from proseflow.tasks.store.output import Output

    runs = Output.open(args.output, create=False).read("runs").sort_by("started_at").to_pylist()
    if args.json:
        for row in runs:
            print(json.dumps(_nested(row), default=str))
        return 0
    columns = (
        "run_id",
        "flow_run_name",
        "started_at",
        "seconds",
        "status",
        "n_inputs",
        "n_documents",
        "n_rejects",
        "n_skipped",
        "pipeline_fingerprint",
        "error",
    )
    for row in runs:
        row["seconds"] = f"{(row['finished_at'] - row['started_at']).total_seconds():.1f}"
        row["error"] = (row["error"] or "").splitlines()[0][:200] if row["error"] else ""
    rows = [[_cell(row[c]) for c in columns] for row in runs]
    print(_table(list(columns), rows))
    return 0


# runs columns that hold JSON text: --json prints them as nested values
JSON_COLUMNS = ("source", "parameters", "versions", "clean_ops", "stage_seconds")


def _nested(row: dict) -> dict:
    """A runs row with its JSON text columns decoded, so --json emits real nested objects."""
    return {k: json.loads(v) if k in JSON_COLUMNS and v else v for k, v in row.items()}


def _cell(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _add_catalog(sub) -> None:
    parser = command(
        sub,
        "catalog",
        cmd_catalog,
        help="finish interrupted commits and rebuild the DuckDB catalog (proseflow.duckdb)",
        description="Rebuild OUTPUT/proseflow.duckdb: views documents (newest per doc_id), documents_all, "
        "rejects, runs, raw (without bytes), corpus_stats and terms over the Parquet files.",
    )
    add_output(parser)


def cmd_catalog(args: argparse.Namespace) -> int:
    from proseflow.tasks import catalog
    from proseflow.tasks.store.lock import locked
    from proseflow.tasks.store.output import Output

    output = Output.open(args.output, create=False)
    with locked(output, "catalog"):
        path = catalog.rebuild(output)  # finishes or undoes interrupted commits first
    print(
        path or f"{output.url}: commits settled; the DuckDB catalog is built for local outputs only"
    )
    return 0


def _add_report(sub) -> None:
    parser = command(
        sub,
        "report",
        cmd_report,
        help="write (or rewrite) the HTML report of a committed run",
        description="Write OUTPUT/reports/run-<run_id>.html for a committed run (default: the last "
        "completed one): distributions per collection, rejects, cleaning steps, languages, "
        "near-duplicates, seconds per stage, and drift against the previous run over the same "
        "sources. The page is self-contained: it opens with no network.",
    )
    parser.add_argument("--run", metavar="RUN_ID", help="the run to report (see `proseflow runs`)")
    add_output(parser)


def cmd_report(args: argparse.Namespace) -> int:
    from proseflow.tasks.run_report import rewrite
    from proseflow.tasks.store.output import Output

    path, built = rewrite(Output.open(args.output, create=False), args.run)
    print(f"proseflow: report in {path}")
    if built.flags:
        print(f"proseflow: drift against run {built.compared_with}: {len(built.flags)} flagged")
    return 0


def _add_sql(sub) -> None:
    parser = command(
        sub,
        "sql",
        cmd_sql,
        help="query the outputs with DuckDB SQL (the catalog's views)",
        description="Run one SQL query on OUTPUT/proseflow.duckdb, read-only: the views documents, "
        "documents_all, rejects, runs, raw, corpus_stats and terms. Prints a table, or JSON lines.",
    )
    parser.add_argument("query", metavar="QUERY", help="one SQL statement, e.g. 'FROM runs'")
    add_output(parser)
    parser.add_argument("--json", action="store_true", help="print each row as a JSON object")


def cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from proseflow.tasks.store.output import Output

    path = Output.open(args.output, create=False).catalog_path
    if not path.is_file():
        raise OutputError(
            f"{path} does not exist; build it with `proseflow catalog -o {args.output}`"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = con.sql(args.query)
        names = result.columns if result is not None else []
        rows = result.fetchall() if result is not None else []
    except duckdb.Error as exc:
        raise UsageError(f"the query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    if args.json:
        for row in rows:
            print(json.dumps(dict(zip(names, row, strict=True)), default=str))
    elif names:
        print(_table(list(names), [[_cell(v) for v in row] for row in rows]))
    return 0


def _add_schema(sub) -> None:
    command(
        sub,
        "schema",
        cmd_schema,
        help="print the data dictionary of every dataset",
        description="Print the data dictionary (every dataset, column, type and description) as Markdown.",
    )


def cmd_schema(args: argparse.Namespace) -> int:
    from proseflow.tasks.schema import data_dictionary_markdown

    print(data_dictionary_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
