"""The benchmark's report: ratios to the naive script, target verdicts, and the Markdown.

Pure functions over the scenario rows that bench/run.py measures (dicts, one per scenario).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from proseflow.tasks.schema import STAGES  # the keys of runs.stage_seconds

# Scenario names: the report's row keys.
NAIVE = "naive"
NAIVE_RS = "naive-textstat-rs"
EMBEDDED = "embedded"
TRIVIAL_EMBEDDED = "trivial-flow"
SEEDS_EMBEDDED = "seeds"
SERVER_FIRST = "server"
SERVER_RERUN = "server-rerun"
SERVER_NO_NEAR_DUPLICATES = "server-no-near-duplicates"
SERVER_ONE_WORKER = "server-workers1"
SEEDS_SERVER = "server-seeds"
TRIVIAL_SERVER = "server-trivial-flow"
SERVER_LARGE = "server-large"

DESCRIPTIONS = {
    NAIVE: "naive_textstat.py: one loop, textstat per file, pandas to Parquet",
    NAIVE_RS: "the same loop with textstat-rs (Rust port, inexact; no lix, rix, monosyllabcount)",
    EMBEDDED: "proseflow run, no server: Prefect's temporary API",
    TRIVIAL_EMBEDDED: "a do-nothing @flow in a fresh python process, no server (the floor)",
    SEEDS_EMBEDDED: "proseflow run seeds/ (1 document), no server, fresh output",
    SERVER_FIRST: "proseflow run against a Prefect server, fresh output",
    SERVER_RERUN: "same command again on the unchanged corpus (same output)",
    SERVER_NO_NEAR_DUPLICATES: "proseflow run --near-duplicates off against the server, fresh output",
    SERVER_ONE_WORKER: "proseflow run --workers 1 against the server, fresh output",
    SEEDS_SERVER: "proseflow run seeds/ against the server, fresh output",
    TRIVIAL_SERVER: "the do-nothing @flow against the server",
    SERVER_LARGE: "proseflow run at --memory-scale against the server, fresh output",
}


@dataclass(frozen=True)
class Target:
    """A goal the report judges: the statement, its limit and unit, and which side passes."""

    statement: str
    limit: float
    unit: str
    higher_is_better: bool = False


TARGETS = {
    "throughput": Target(
        "--scale corpus against a server >= 4x the naive script's docs/s", 4.0, "x", True
    ),
    "throughput_large": Target(
        "--memory-scale corpus against a server >= 6x the naive script's docs/s (aim 10x)",
        6.0, "x", True,
    ),
    "memory_large": Target(
        "peak RSS of all proseflow processes at --memory-scale <= 1.5 GiB", 1536.0, " MiB"
    ),
    "throughput_embedded": Target(
        "--scale corpus, no server (temporary API) >= 2.5x the naive script's docs/s",
        2.5, "x", True,
    ),
    "rerun": Target("unchanged rerun <= 10% of the first run's wall time", 10.0, "%"),
    "seeds_embedded": Target(
        "run seeds/, no server: wall time minus the do-nothing flow's <= 1.5 s", 1.5, " s"
    ),
    "seeds_server": Target("run seeds/ against a running server <= 3 s wall", 3.0, " s"),
    "overhead": Target("orchestration overhead <= 10% of flow time, --scale corpus", 10.0, "%"),
    "overhead_large": Target(
        "orchestration overhead <= 10% of flow time, --memory-scale corpus", 10.0, "%"
    ),
    "memory_hostile": Target(
        "peak RSS of all proseflow processes on every hostile input <= 1.5 GiB", 1536.0, " MiB"
    ),
    "stage_cost": Target("clean + readability + statistics <= 0.8 ms/doc on one core", 0.8, " ms"),
    "statistics_cost": Target("statistics <= 0.35 ms/doc on one core", 0.35, " ms"),
    "near_duplicate_cost": Target(
        "--scale corpus against a server: median wall with near-duplicates on <= 15% over off",
        15.0, "%",
    ),
    "near_duplicate_precision": Target(
        "near-duplicate precision through a run >= 0.95, overall and every kind", 0.95, "", True
    ),
    "near_duplicate_recall": Target(
        "near-duplicate recall through a run >= 0.90, overall and worst duplicate kind",
        0.9, "", True,
    ),
}  # fmt: skip
AIMS = {"throughput_large": 10.0}
RUN_TARGETS = {
    "throughput",
    "throughput_large",
    "throughput_embedded",
    "overhead",
    "overhead_large",
}


# ---------------------------------------------------------------- ratios and verdicts


def throughput(row: dict) -> float | None:
    """Inputs handled per second of command wall time."""
    n = row.get("inputs") or row.get("documents")
    return n / row["wall_s"] if n and row.get("wall_s") else None


def with_ratios(rows: list[dict]) -> list[dict]:
    """Rows with documents/s and, for runs that processed a scaled corpus, the ratio to the naive
    script's docs/s.

    The naive script runs on the --scale corpus only: a loop's docs/s does not depend on how many
    files it reads, so the --memory-scale row is compared with the same docs/s.
    """
    naive = next((r for r in rows if r["scenario"] == NAIVE), None)
    base = throughput(naive) if naive and naive.get("returncode") == 0 else None
    out = []
    for row in rows:
        scaled = row.get("corpus") not in (None, "seeds")  # seeds/ holds one document
        row = dict(row, docs_per_s=_round(throughput(row), 1) if scaled else None)
        # A rerun that skips every input says nothing about throughput either.
        comparable = scaled and row.get("documents")
        row["throughput_ratio"] = _ratio(throughput(row), base) if comparable else None
        out.append(row)
    return out


def start_floor(by: dict[str, dict]) -> dict:
    """What a do-nothing flow costs without a server, and how much of it is the temporary API.

    The temporary API's share is the do-nothing flow call without a server minus the same call
    against the running server (both after `import prefect`).
    """
    alone, served = by.get(TRIVIAL_EMBEDDED, {}), by.get(TRIVIAL_SERVER, {})
    wall, call, served_call = alone.get("wall_s"), alone.get("flow_s"), served.get("flow_s")
    api = call - served_call if call is not None and served_call is not None else None
    return {
        "trivial_wall_s": wall,
        "import_prefect_s": alone.get("import_s"),
        "flow_call_s": call,
        "flow_call_with_server_s": served_call,
        "temporary_api_s": _round(api, 3),
        "temporary_api_share": _round(api / wall, 3) if api is not None and wall else None,
        "trivial_wall_with_server_s": served.get("wall_s"),
        "first_start_wall_s": alone.get("first_start_wall_s"),
    }


def verdict(key: str, value: float | None, failed: str = "") -> dict:
    """A target's verdict: measured value, limit, whether it is met and by how much it misses."""
    target = TARGETS[key]
    limit, unit, higher_is_better = target.limit, target.unit, target.higher_is_better
    met = None if value is None else (value >= limit if higher_is_better else value <= limit)
    miss = None
    if failed:  # a value from a run that did not finish proves nothing
        met, miss = False, f"run failed: {failed}"
    elif met is False:
        miss = f"{abs(value - limit):.3g}{unit} {'short' if higher_is_better else 'over'}"
    aim = AIMS.get(key)
    note = None
    if aim is not None and value is not None and not failed:
        note = f"aim {aim:g}{unit}: {'reached' if value >= aim else 'not reached'}"
    return {"target": key, "statement": target.statement, "value": value, "limit": limit, "unit": unit,
            "met": met, "miss": miss, "note": note}  # fmt: skip


def verdicts(
    rows: list[dict],
    stage_cost: dict | None,
    hostile: dict | None = None,
    near_duplicates: dict | None = None,
) -> list[dict]:
    """Every target, judged from the scenario rows, the stage cost on one core, the hostile inputs
    and the near-duplicate cases."""
    by = {r["scenario"]: r for r in rows}
    first, rerun, large = by.get(SERVER_FIRST, {}), by.get(SERVER_RERUN, {}), by.get(SERVER_LARGE)
    embedded = by.get(EMBEDDED, {})
    seeds, trivial = by.get(SEEDS_EMBEDDED, {}), by.get(TRIVIAL_EMBEDDED, {})
    seeds_server = by.get(SEEDS_SERVER, {})
    naive = by.get(NAIVE, {})
    without_links = by.get(SERVER_NO_NEAR_DUPLICATES, {})
    # Percentages from the measured values, not from the 2-digit ratios of the table.
    rerun_share = _percent(rerun.get("wall_s"), first.get("wall_s"))
    over_floor = _difference(seeds.get("wall_s"), trivial.get("wall_s"))
    out = [
        verdict("throughput", first.get("throughput_ratio"), failed(first, naive)),
        verdict("throughput_embedded", embedded.get("throughput_ratio"), failed(embedded, naive)),
        verdict("rerun", rerun_share, failed(first, rerun)),
        verdict("overhead", _percent(first.get("overhead_flow_share"), 1), failed(first)),
        verdict("seeds_embedded", over_floor, failed(seeds, trivial)),
        verdict("seeds_server", seeds_server.get("wall_s"), failed(seeds_server)),
        verdict(
            "near_duplicate_cost",
            near_duplicate_cost(first, without_links),
            failed(first, without_links),
        ),  # fmt: skip
    ]
    if large is not None:
        out += [
            verdict("throughput_large", large.get("throughput_ratio"), failed(large, naive)),
            verdict("overhead_large", _percent(large.get("overhead_flow_share"), 1), failed(large)),
            verdict("memory_large", large.get("peak_mib"), failed(large)),
        ]
    if stage_cost is not None:
        broken = stage_cost.get("error", "")
        stages = stage_cost.get("stage_ms_per_doc") or {}
        total = stage_cost.get("process_stages_ms_per_doc")
        out.append(verdict("stage_cost", total, broken and "bench/stages.py"))
        out.append(
            verdict("statistics_cost", stages.get("statistics"), broken and "bench/stages.py")
        )
    if hostile is not None:
        out.append(hostile_verdict(hostile))
    if near_duplicates is not None:
        out += near_duplicate_verdicts(near_duplicates)
    return out


def hostile_verdict(hostile: dict) -> dict:
    """The hostile inputs' memory target: the highest peak, missed too when any input failed.

    A peak from a command that crashed or was killed says nothing about the input it did not
    finish.
    """
    rows = hostile["rows"]
    peaks = [r["peak_mib"] for r in rows if r.get("peak_mib") is not None]
    bad = ", ".join(f"{r['input']} {_exit(r)}" for r in rows if r.get("returncode") != 0)
    return verdict("memory_hostile", max(peaks, default=None), bad)


def near_duplicate_verdicts(section: dict) -> list[dict]:
    """Precision (overall and every kind) and recall (overall and every duplicate kind) of the
    cases through a run: each target judges the worst of them."""
    rows = section.get("through_run") or []
    precision = min((r["precision"] for r in rows), default=None)
    recall = min((r["recall"] for r in rows if r["duplicate"]), default=None)
    broken = section.get("error") or _run_failure(section.get("run") or {})
    return [
        verdict("near_duplicate_precision", _round(precision, 3), broken),
        verdict("near_duplicate_recall", _round(recall, 3), broken),
    ]


def _run_failure(run: dict) -> str:
    if not run or run.get("returncode") == 0:
        return ""
    return f"proseflow run on the cases {_exit(run)}"


def failed(*rows: dict) -> str:
    """The scenarios among `rows` that did not run or exited non-zero, with their exit codes."""
    bad = [r for r in rows if r and r.get("returncode") != 0]
    return ", ".join(f"{r['scenario']} {_exit(r)}" for r in bad)


def _exit(row: dict) -> str:
    return "did not finish" if row.get("returncode") is None else f"exit {row['returncode']}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _percent(a: float | None, b: float | None) -> float | None:
    return round(100 * a / b, 1) if a is not None and b else None


def _percent_over(a: float | None, b: float | None) -> float | None:
    """How much larger a is than b, in percent of b."""
    return round(100 * (a / b - 1), 1) if a is not None and b else None


def _difference(a: float | None, b: float | None) -> float | None:
    return round(a - b, 3) if a is not None and b is not None else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


# ---------------------------------------------------------------- markdown


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _loads(loads: list[float] | None) -> str:
    return "–" if not loads else " / ".join(f"{x:.1f}" for x in loads)


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f}%"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += [
        "| " + " | ".join(_cell(v) if not isinstance(v, str) else v for v in row) + " |"
        for row in rows
    ]
    return lines


SCENARIO_HEADERS = (
    "scenario", "exit", "inputs", "documents", "wall s", "flow s", "docs/s", "x naive docs/s",
    "peak MiB", "workers", "stages s", "critical s", "overhead % flow",
)  # fmt: skip


def scenario_table(rows: list[dict]) -> list[str]:
    """One line per scenario: times, throughput, ratio, memory and overhead."""
    body = [
        (
            r["scenario"],
            _exit_cell(r),
            r.get("inputs"),
            r.get("documents"),
            r.get("wall_s"),
            r.get("flow_s"),
            r.get("docs_per_s"),
            r.get("throughput_ratio"),
            r.get("peak_mib"),
            r.get("workers"),
            r.get("stage_sum_s"),
            r.get("critical_s"),
            _pct(r.get("overhead_flow_share")),
        )  # fmt: skip
        for r in rows
    ]
    return markdown_table(SCENARIO_HEADERS, body)


def _exit_cell(row: dict) -> str:
    if row.get("returncode") is None:
        return "not run" if "wall_s" not in row else "killed"
    return str(row["returncode"])


def stage_table(rows: list[dict]) -> list[str]:
    """Seconds per stage for each proseflow scenario (summed over worker processes)."""
    body = [
        (r["scenario"], *(r["stage_seconds"].get(s) for s in STAGES))
        for r in rows
        if "stage_seconds" in r
    ]
    return markdown_table(("scenario", *STAGES), body)


def memory_lines(rows: list[dict]) -> list[str]:
    """Peak memory of the first run against the server and of the large run, and the growth."""
    by = {r["scenario"]: r for r in rows}
    small, large = by.get(SERVER_FIRST, {}), by.get(SERVER_LARGE, {})
    a, b = small.get("peak_mib"), large.get("peak_mib")
    if a is None or b is None:
        return []
    return [
        f"Peak memory against the server: {_cell(a)} MiB at {small.get('corpus')},"
        f" {_cell(b)} MiB at {large.get('corpus')} ({100 * (b - a) / a:+.1f}%);"
        f" at the large run's peak: {peak_parts(large.get('peak_processes'))}."
    ]


def _walls(row: dict, key: str) -> list[float]:
    return row.get(key) or ([row["wall_s"]] if row.get("wall_s") is not None else [])


def near_duplicate_cost(on: dict, off: dict) -> float | None:
    """Median wall with near-duplicates on over the median with them off, in percent."""
    on_walls = _walls(on, "near_duplicates_on_wall_s")
    off_walls = _walls(off, "repeats_wall_s")
    if not on_walls or not off_walls:
        return None
    return _percent_over(statistics.median(on_walls), statistics.median(off_walls))


def near_duplicate_cost_lines(rows: list[dict]) -> list[str]:
    """Wall times of fresh runs against the server with near-duplicates on and off."""
    by = {r["scenario"]: r for r in rows}
    on, off = by.get(SERVER_FIRST, {}), by.get(SERVER_NO_NEAR_DUPLICATES, {})
    if on.get("returncode") != 0 or off.get("returncode") != 0:
        return []
    stage = (on.get("stage_seconds") or {}).get("near_duplicates")
    on_walls, off_walls = _walls(on, "near_duplicates_on_wall_s"), _walls(off, "repeats_wall_s")
    return [
        "Near-duplicates against the server, fresh runs alternating off and on: wall s on "
        + ", ".join(_cell(w) for w in on_walls)
        + "; off "
        + ", ".join(_cell(w) for w in off_walls)
        + f"; medians {_cell(statistics.median(on_walls))} s on, "
        f"{_cell(statistics.median(off_walls))} s off"
        f" ({near_duplicate_cost(on, off):+.1f}%). In the first run the near_duplicates stage"
        f" took {_cell(stage)} s (signatures in the workers, summed, and the links at the"
        " commit)."
    ]


def peak_parts(parts: list[dict] | None) -> str:
    """`main 450 + worker 410 + worker 405 MiB`: each process's share of a peak, largest first."""
    if not parts:
        return "–"
    ordered = sorted(parts, key=lambda p: -p["mib"])
    return " + ".join(f"{p['role']} {_cell(p['mib'])}" for p in ordered) + " MiB"


def error_lines(rows: list[dict]) -> list[str]:
    """The last line of each failed scenario's error."""
    lines = []
    for r in rows:
        if r.get("error"):
            last = r["error"].strip().splitlines()[-1][:300] if r["error"].strip() else ""
            lines.append(f"- `{r['scenario']}`: {last}")
    return lines


def floor_lines(floor: dict | None) -> list[str]:
    """The start-up floor: the do-nothing flow, and how much of it Prefect's temporary API takes."""
    if not floor or floor.get("trivial_wall_s") is None:
        return ["(not measured)"]
    f = floor
    return [
        f"A do-nothing `@flow` in a fresh process without a server takes {_cell(f['trivial_wall_s'])} s"
        f" wall: `import prefect` {_cell(f['import_prefect_s'])} s, the flow call"
        f" {_cell(f['flow_call_s'])} s. The same call against the running server takes"
        f" {_cell(f['flow_call_with_server_s'])} s (whole process {_cell(f['trivial_wall_with_server_s'])} s),"
        f" so starting and stopping Prefect's temporary API costs about {_cell(f['temporary_api_s'])} s,"
        f" {_pct(f['temporary_api_share'])} of the floor. The first start on an empty"
        f" PREFECT_HOME (Prefect creates and migrates its database) took"
        f" {_cell(f.get('first_start_wall_s'))} s; it is not a row.",
    ]


def stage_cost_lines(cost: dict | None) -> list[str]:
    """The stage cost on one core."""
    if not cost:
        return ["(not run)"]
    if cost.get("error"):
        return [f"bench/stages.py failed: {cost['error'].splitlines()[-1][:300]}"]
    stages = cost["stage_ms_per_doc"]
    rows = [
        (cost["docs"], cost.get("ingest_ms_per_doc"), stages.get("clean"), stages.get("readability"),
         stages.get("statistics"), cost.get("process_stages_ms_per_doc"),
         cost.get("process_wall_ms_per_doc"))
    ]  # fmt: skip
    headers = ("docs", "ingest (read+decode) ms", "clean ms", "readability ms", "statistics ms",
               "clean+readability+statistics ms", "process wall ms")  # fmt: skip
    return [
        *markdown_table(headers, rows),
        "",
        f"CPU ms per document, best of {len(cost.get('repeats') or [])} fresh processes pinned to"
        " one CPU, each timing `tasks.batch.process` on documents it has not seen after a warm-up"
        " batch of others (the last column is the same call's wall time).",
    ]


def micro_lines(micro: dict | None) -> list[str]:
    """The micro-benchmark section."""
    if not micro:
        return ["(not run)"]
    if micro.get("error"):
        return [f"bench/micro.py failed: {micro['error']}"]
    r, s = micro["readability"], micro["segmentation"]
    rows = [
        ("readability engine: score_text vs textstat (22 METRICS one by one)", r["docs"],
         r["engine_ms_per_doc"], r["textstat_ms_per_doc"], r["speedup"], ""),
        ("readability stage: readability_batch with language detection vs textstat", r["docs"],
         r.get("stage_ms_per_doc"), r["textstat_ms_per_doc"], r.get("stage_speedup"), ""),
        ("segmenter: split_sentences vs pysbd", s["docs"], s["segmenter_ms_per_doc"],
         s["pysbd_ms_per_doc"], s["speedup"],
         f"{s.get('segmenter_golden', '–')}/48 vs {s.get('pysbd_golden', '–')}/48"),
    ]  # fmt: skip
    return markdown_table(("benchmark", "docs", "proseflow ms/doc", "reference ms/doc", "speedup",
                           "golden rules (exact)"), rows)  # fmt: skip


def hostile_headers(timeout_s: float) -> tuple[str, ...]:
    """Columns of the hostile-inputs table; the last two are the memory and time checks."""
    limit = TARGETS["memory_hostile"].limit
    return ("input", "MB", "exit", "wall s", "documents", "rejects", "rejects by reason",
            "peak MiB", "API MiB", "slowest stage", f"<= {limit / 1024:g} GiB",
            f"<= {timeout_s:g} s")  # fmt: skip


def hostile_checks(row: dict, timeout_s: float) -> tuple[bool | None, bool]:
    """(peak within the memory limit, finished within the timeout) of one hostile input."""
    peak = row.get("peak_mib")
    memory = None if peak is None else peak <= TARGETS["memory_hostile"].limit
    in_time = row.get("returncode") is not None and row.get("wall_s", 0) <= timeout_s
    return memory, in_time


def slowest_stage(stages: dict | None) -> str:
    """`clean 3.2 s`: the stage that took longest, from the run's summary."""
    if not stages:
        return "–"
    name = max(stages, key=stages.get)
    return f"{name} {_cell(float(stages[name]))} s"


def reasons_cell(reasons: dict | None) -> str:
    """`duplicate 99,999, empty 1`: rejects by reason, largest first."""
    if not reasons:
        return "–"
    return ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))


def hostile_table(hostile: dict) -> list[str]:
    """One line per hostile input: outcome, counts, peak memory and the two checks."""
    mark = {True: "pass", False: "FAIL", None: "–"}
    body = []
    for r in hostile["rows"]:
        memory, in_time = hostile_checks(r, hostile["timeout_s"])
        body.append((r["input"], f"{r['bytes'] / 1e6:.2f}", _exit_cell(r), r.get("wall_s"),
                     _count(r.get("documents")), _count(r.get("rejects")),
                     reasons_cell(r.get("rejects_by_reason")),
                     r.get("peak_mib"), r.get("api_mib"), slowest_stage(r.get("stage_seconds")),
                     mark[memory], mark[in_time]))  # fmt: skip
    return markdown_table(hostile_headers(hostile["timeout_s"]), body)


def _count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def hostile_conclusion(hostile: dict) -> str:
    """Says plainly whether the memory target is met on every input, and which ones miss it."""
    v, rows, timeout = hostile_verdict(hostile), hostile["rows"], hostile["timeout_s"]
    killed = [r["input"] for r in rows if not hostile_checks(r, timeout)[1]]
    time_part = (
        f"Every input finished within {timeout:g} s."
        if not killed
        else f"Killed at the {timeout:g} s timeout: {', '.join(killed)}."
    )
    if v["met"] is None:
        return f"The 1.5 GiB target is not measured: no input ran. {time_part}"
    worst = max((r for r in rows if r.get("peak_mib") is not None), key=lambda r: r["peak_mib"])
    if v["met"]:
        return (
            f"The 1.5 GiB target is met: every input finished with exit 0 and the highest peak is"
            f" {_cell(worst['peak_mib'])} MiB (`{worst['input']}`). {time_part}"
        )
    over = [r for r in rows if hostile_checks(r, timeout)[0] is False]
    why = [f"`{r['input']}` peaked at {_cell(r['peak_mib'])} MiB" for r in over]
    why += [f"`{r['input']}` {_exit(r)}" for r in rows if r.get("returncode") != 0]
    return f"The 1.5 GiB target is NOT met: {'; '.join(why)}. {time_part}"


def hostile_what(row: dict) -> str:
    """What a hostile input is, and the --max-bytes it ran with when not the default."""
    if not row.get("max_bytes"):
        return row["what"]
    return f"{row['what']} (run with --max-bytes {row['max_bytes']}: above the default limit)"


def hostile_lines(hostile: dict | None) -> list[str]:
    """The hostile-inputs section: table, what each input is, the verdict and the definitions."""
    if not hostile:
        return ["(not run)"]
    return [
        *hostile_table(hostile),
        "",
        *[f"- `{r['input']}`: {hostile_what(r)}" for r in hostile["rows"]],
        "",
        hostile_conclusion(hostile),
        "",
        f"Each input: `proseflow run INPUT --output FRESH --json --workers {hostile['workers']}`,"
        f" no PREFECT_API_URL; single documents {hostile['scale_mb']:g} MB, record bombs"
        f" {hostile['records']:,} records. peak MiB: the highest summed RSS of the command's"
        " process tree, sampled every 50 ms, minus Prefect's temporary API server at that moment"
        " (API MiB): the flow process and its workers. rejects and slowest stage come from the"
        " run's JSON summary (stage seconds summed over workers).",
    ]


NEAR_DUPLICATE_HEADERS = (
    "kind", "label", "pairs", "direct: found", "direct: precision", "direct: recall",
    "run: found", "run: precision", "run: recall",
)  # fmt: skip


def near_duplicate_table(section: dict) -> list[str]:
    """One line per kind: pairs predicted duplicate, precision and recall, directly and through a run."""
    piped = {r["kind"]: r for r in section.get("through_run") or []}
    body = []
    for r in section["direct"]:
        label = "" if r["kind"] == "all" else ("duplicate" if r["duplicate"] else "distinct")
        p = piped.get(r["kind"], {})
        body.append((r["kind"], label, r["pairs"], r["predicted"], _three(r["precision"]),
                     _three(r["recall"]), p.get("predicted"), _three(p.get("precision")),
                     _three(p.get("recall"))))  # fmt: skip
    return markdown_table(NEAR_DUPLICATE_HEADERS, body)


def _three(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def near_duplicate_run_line(run: dict) -> str:
    """How the run on the case documents went."""
    if run.get("returncode") != 0:
        last = (run.get("error") or "").strip().splitlines() or [""]
        return f"The run on the case documents failed ({_exit(run)}): {last[-1][:300]}"
    return (
        f"The run on the case documents: exit 0 in {_cell(run['wall_s'])} s,"
        f" {_count(run.get('inputs'))} inputs, {_count(run.get('documents'))} documents committed,"
        f" rejects: {reasons_cell(run.get('rejects_by_reason'))};"
        f" {_count(run.get('not_committed'))} case documents not committed (their pairs count as"
        " not found)."
    )


def near_duplicate_lines(section: dict | None) -> list[str]:
    """The near-duplicate section: the per-kind table, how the run went, and the definitions."""
    if not section:
        return ["(not run)"]
    if section.get("error"):
        return [f"bench/near_duplicate_cases.py failed: {section['error']}"]
    return [
        *near_duplicate_table(section),
        "",
        near_duplicate_run_line(section["run"]),
        "",
        f"{section['pairs']} labelled pairs ({section['per_kind']} per kind, seed"
        f" {section['seed']}) over {section['documents']} documents: BBC articles and copies of"
        " them (bench/near_duplicate_cases.py). direct: `tasks.near_duplicates.clusters` on the raw"
        " article texts. run: every document written as `cases/COLLECTION/NAME.txt`, then"
        " `proseflow run cases/ --output FRESH --json` (defaults: shingle size"
        f" {section['shingle_size']}, threshold {section['threshold']}); a pair is found when the"
        " run committed both as one doc_id (byte-identical) or linked them to one representative"
        " in near_duplicates/. A duplicate kind's precision counts its hits against every false"
        " positive; a distinct kind's counts every hit against its own false positives, and its"
        " recall is the overall recall.",
    ]


def verdict_table(judged: list[dict]) -> list[str]:
    """Each target, its measured value and whether it was met."""
    mark = {True: "met", False: "MISSED", None: "not measured"}
    body = [
        (
            v["statement"],
            f"{_cell(v['value'])}{v['unit']}",
            f"{_cell(v['limit'])}{v['unit']}",
            mark[v["met"]],
            "; ".join(x for x in (v["miss"], v.get("note")) if x),
        )  # fmt: skip
        for v in judged
    ]
    return markdown_table(("target", "measured", "limit", "verdict", "notes"), body)


DEFINITIONS = [
    "wall s: the command, process start to exit. flow s: the runs row's finished_at - started_at"
    " (naive loops: the loop time they print; the do-nothing flow: its flow call)."
    " docs/s: inputs / wall s; x naive: divided by the naive script's docs/s in this run."
    " peak MiB: the summed RSS of the command's process tree (flow, worker processes and, without"
    " a server, Prefect's temporary API), sampled every 50 ms; the server is not counted."
    " Repeated rows (trivial flow, seeds) show the run with the median wall time.",
    "",
    "Orchestration overhead = (flow s - critical s) / flow s. critical s = discover + commit"
    " (stage seconds timed in the flow process while no worker has work) + every other stage"
    " second / workers. Stage seconds are the runs row's `stage_seconds`, summed over worker"
    " processes; workers = the run's configured workers, 1 when it had a single batch. So the"
    " overhead is the share of the flow's wall time that evenly spread stage work does not"
    " explain: Prefect task runs and state changes, worker start-up, waiting on the last batch,"
    " passing reports. With one worker it is (flow s - stages s) / flow s.",
]


def render_markdown(report: dict) -> str:
    """The whole report as markdown."""
    m, v = report["machine"], report["versions"]
    lines = [
        f"# proseflow benchmark {report['timestamp']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f". Load average (1, 5, 15 min) at start {_loads(m.get('load_average_start'))},"
        f" at end {_loads(m.get('load_average_end'))}: above {m['cores']} means other work"
        " shared the cores, and every time below (overhead included) suffers.",
        f"Corpus: {report['corpus']} x{report['scale']} = {report['n_documents']} documents"
        f" (--memory-scale run: {_cell(report.get('memory_n_documents'))} documents)."
        f" Prefect server: up in {_cell(report.get('server_startup_s'))} s,"
        f" peak {_cell(report.get('server_peak_mib'))} MiB (not counted in the rows); one"
        f" untimed do-nothing flow run warmed it before the first row"
        f" ({_cell(report.get('server_warmup_s'))} s).",
        "",
        "## Scenarios",
        "",
        *scenario_table(report["scenarios"]),
        "",
        *[f"- `{r['scenario']}`: {r.get('description', '')}" for r in report["scenarios"]],
        "",
        *DEFINITIONS,
    ]
    lines += ["", *memory_lines(report["scenarios"])]
    cost = near_duplicate_cost_lines(report["scenarios"])
    if cost:
        lines += ["", *cost]
    errors = error_lines(report["scenarios"])
    if errors:
        lines += ["", "Failures:", "", *errors]
    lines += [
        "",
        "## Seconds per stage (summed over worker processes)",
        "",
        *stage_table(report["scenarios"]),
        "",
        "## Start-up floor",
        "",
        *floor_lines(report.get("floor")),
        "",
        "## Stage cost on one core (bench/stages.py)",
        "",
        *stage_cost_lines(report.get("stage_cost")),
        "",
        "## Micro-benchmarks (bench/micro.py)",
        "",
        *micro_lines(report.get("micro")),
        "",
        "## Hostile inputs (bench/hostile.py)",
        "",
        *hostile_lines(report.get("hostile")),
        "",
        "## Near-duplicates (bench/near_duplicate_cases.py)",
        "",
        *near_duplicate_lines(report.get("near_duplicates")),
        "",
        "## Targets",
        "",
        *verdict_table(report["verdicts"]),
    ]
    if report.get("profile"):
        lines += ["", "## Profile of the flow process (top functions, all threads)", "", "```",
                  report["profile"], "```"]  # fmt: skip
    return "\n".join(lines) + "\n"


def machine_info() -> dict:
    """CPU model, core count and memory of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "load_average_start": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: how busy the machine was besides the bench."""
    with suppress(OSError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def versions() -> dict:
    """Versions of the pieces the numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("prefect", "pyarrow", "textstat", "proseflow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def write_report(report: dict, out: Path) -> list[Path]:
    """Write the report as bench-<timestamp>.json/.md and latest.json/.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    text, md = json.dumps(report, indent=2, default=str), render_markdown(report)
    stamp = report["timestamp"].replace(":", "").replace("-", "")
    paths = []
    for stem in (f"bench-{stamp}", "latest"):
        for suffix, content in ((".json", text), (".md", md)):
            path = out / f"{stem}{suffix}"
            path.write_text(content)
            paths.append(path)
    return paths
