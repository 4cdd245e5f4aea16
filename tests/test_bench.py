"""Tests for bench/run.py and its helpers (processes.py, report.py, hostile.py, near_duplicate_cases.py
through a run): corpus, parsing, ratios, verdicts, the report; no benchmark runs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from contextlib import suppress
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.store_runs import runs_row

BENCH_RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH_RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = _load_bench()
import processes  # noqa: E402  (bench/ is on sys.path once run.py is loaded)
import report  # noqa: E402


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "sport").mkdir(parents=True)
    (root / "tech").mkdir()
    (root / "sport" / "001.txt").write_bytes(b"Title\n\nBody one.\n")
    (root / "sport" / "002.txt").write_bytes("Caf\u00e9 title\n\nLatin-1 body.".encode("latin-1"))
    (root / "tech" / "001.txt").write_bytes(b"Tech title\n\nBody one.\n")
    (root / "README.TXT").write_bytes(b"not a document\n")
    return root


def _digests(folder: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()]


def test_corpus_copies_are_distinct_and_keep_collections(source: Path, tmp_path: Path):
    dest = tmp_path / "corpus-x3"
    manifest = bench.build_corpus(source, dest, 3)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert manifest["n_documents"] == 9 == len(files)
    assert {f.split("/")[0] for f in files} == {"sport", "tech"}
    assert "sport/002-2.txt" in files and "README.TXT" not in files
    digests = _digests(dest)
    assert len(set(digests)) == len(digests)


def test_corpus_copy_keeps_the_original_bytes_first(source: Path, tmp_path: Path):
    dest = tmp_path / "corpus-x2"
    bench.build_corpus(source, dest, 2)
    original = (source / "sport" / "002.txt").read_bytes()
    copy = (dest / "sport" / "002-1.txt").read_bytes()
    assert copy.startswith(original) and copy.endswith(bench.copy_line(1))
    copy.decode("latin-1")  # still one encoding: only ASCII was appended


def test_corpus_rebuilds_only_when_scale_changes(source: Path, tmp_path: Path):
    dest = tmp_path / "corpus"
    bench.build_corpus(source, dest, 2)
    marker = dest / "sport" / "001-0.txt"
    marker.write_bytes(b"touched")
    bench.build_corpus(source, dest, 2)
    assert marker.read_bytes() == b"touched"
    assert bench.build_corpus(source, dest, 1)["n_documents"] == 3
    assert not (dest / "sport" / "001-1.txt").exists()


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_copy_lines_differ_for_different_copies(a: int, b: int):
    assert (bench.copy_line(a) == bench.copy_line(b)) == (a == b)


STAGES_1S = dict.fromkeys(report.STAGES, 1.0)  # 8 s of stage work, 3 of them serial

ROWS = [
    {"scenario": "naive", "corpus": "x4", "returncode": 0, "inputs": 100, "documents": 100,
     "wall_s": 10.0, "flow_s": 8.0, "peak_mib": 200.0},
    {"scenario": "embedded", "corpus": "x4", "returncode": 0, "inputs": 100, "documents": 98,
     "wall_s": 5.0, "flow_s": 3.0, "peak_mib": 400.0},
    {"scenario": "trivial-flow", "corpus": None, "returncode": 0, "wall_s": 9.0, "flow_s": 8.0,
     "import_s": 0.8, "peak_mib": 300.0},
    {"scenario": "seeds", "corpus": "seeds", "returncode": 0, "inputs": 1, "documents": 1,
     "wall_s": 11.0, "flow_s": 0.5, "peak_mib": 350.0},
    {"scenario": "server", "corpus": "x4", "returncode": 0, "inputs": 100, "documents": 98,
     "wall_s": 2.0, "flow_s": 5.625, "peak_mib": 300.0, "workers": 2, "stage_seconds": STAGES_1S,
     "stage_sum_s": 7.0, "critical_s": 4.5, "overhead_flow_share": 0.2},
    {"scenario": "server-rerun", "corpus": "x4", "returncode": 0, "inputs": 100, "documents": 0,
     "wall_s": 0.5, "flow_s": 0.25, "peak_mib": 150.0},
    {"scenario": "server-seeds", "corpus": "seeds", "returncode": 0, "inputs": 1, "documents": 1,
     "wall_s": 3.5, "flow_s": 1.0, "peak_mib": 250.0},
    {"scenario": "server-trivial-flow", "corpus": None, "returncode": 0, "wall_s": 2.5,
     "flow_s": 1.5, "import_s": 0.8, "peak_mib": 200.0},
    {"scenario": "server-large", "corpus": "x40", "returncode": 0, "inputs": 1000,
     "documents": 1000, "wall_s": 12.5, "flow_s": 10.0, "peak_mib": 1600.0,
     "overhead_flow_share": 0.05,
     "peak_processes": [{"role": "worker", "pid": 2, "mib": 500.0},
                        {"role": "main", "pid": 1, "mib": 600.0},
                        {"role": "worker", "pid": 3, "mib": 500.0}]},
    {"scenario": "server-no-near-duplicates", "corpus": "x4", "returncode": 0, "inputs": 100,
     "documents": 98, "wall_s": 1.8, "flow_s": 4.6, "peak_mib": 290.0, "workers": 2,
     "stage_seconds": dict(STAGES_1S, near_duplicates=0.0)},
]  # fmt: skip

STAGE_COST = {"stage_ms_per_doc": {"clean": 0.2, "readability": 0.3, "statistics": 0.4},
              "process_stages_ms_per_doc": 0.9, "docs": 500, "repeats": [{}]}  # fmt: skip


def _judged(rows=ROWS, stage_cost=STAGE_COST) -> dict[str, dict]:
    return {v["target"]: v for v in report.verdicts(report.with_ratios(rows), stage_cost)}


def test_ratios_are_to_the_naive_docs_per_s_on_the_scaled_corpora_only():
    rows = {r["scenario"]: r for r in report.with_ratios(ROWS)}
    assert rows["naive"]["throughput_ratio"] == 1.0
    assert rows["server"]["docs_per_s"] == 50.0
    assert rows["server"]["throughput_ratio"] == 5.0  # 50 docs/s against 10
    assert rows["server-large"]["throughput_ratio"] == 8.0  # 80 docs/s against the same 10
    assert rows["seeds"]["throughput_ratio"] is None  # one document says nothing about docs/s
    assert rows["server-rerun"]["throughput_ratio"] is None  # nothing processed
    assert rows["trivial-flow"]["docs_per_s"] is None


def test_a_failed_naive_run_gives_no_ratio():
    rows = [dict(r, returncode=1) if r["scenario"] == "naive" else r for r in ROWS]
    assert {r["scenario"]: r for r in report.with_ratios(rows)}["server"][
        "throughput_ratio"
    ] is None


def test_verdicts_judge_each_target():
    judged = _judged()
    assert judged["throughput"]["met"] is True and judged["throughput"]["value"] == 5.0
    assert judged["throughput_embedded"]["value"] == 2.0
    assert judged["throughput_embedded"]["miss"] == "0.5x short"
    assert judged["throughput_large"]["met"] is True
    assert judged["throughput_large"]["note"] == "aim 10x: not reached"
    assert (
        judged["memory_large"]["met"] is False and judged["memory_large"]["miss"] == "64 MiB over"
    )
    assert judged["rerun"]["value"] == 25.0 and judged["rerun"]["met"] is False
    assert judged["overhead"]["value"] == 20.0 and judged["overhead"]["met"] is False
    assert judged["overhead_large"]["value"] == 5.0 and judged["overhead_large"]["met"] is True
    assert judged["seeds_server"]["met"] is False and judged["seeds_server"]["miss"] == "0.5 s over"


def test_seeds_without_a_server_is_judged_against_the_do_nothing_flow():
    judged = _judged()
    assert judged["seeds_embedded"]["value"] == 2.0  # 11 s against a 9 s floor
    assert judged["seeds_embedded"]["met"] is False
    faster = [dict(r, wall_s=10.4) if r["scenario"] == "seeds" else r for r in ROWS]
    assert _judged(faster)["seeds_embedded"]["met"] is True


def test_stage_cost_verdicts():
    judged = _judged()
    assert judged["stage_cost"]["value"] == 0.9 and judged["stage_cost"]["met"] is False
    assert judged["statistics_cost"]["met"] is False and judged["statistics_cost"]["value"] == 0.4
    broken = _judged(stage_cost={"error": "Traceback ... ImportError"})
    assert broken["stage_cost"]["met"] is False
    assert broken["stage_cost"]["miss"] == "run failed: bench/stages.py"
    assert "stage_cost" not in _judged(stage_cost=None)


def test_a_failed_run_misses_its_targets_whatever_it_measured():
    rows = [dict(r, returncode=1) if r["scenario"] == "server-large" else r for r in ROWS]
    judged = _judged(rows)
    assert judged["overhead_large"]["met"] is False
    assert judged["overhead_large"]["miss"] == "run failed: server-large exit 1"
    killed = [dict(r, returncode=None) if r["scenario"] == "server" else r for r in ROWS]
    assert _judged(killed)["throughput"]["miss"] == "run failed: server did not finish"
    assert _judged(rows)["seeds_server"]["met"] is False  # unrelated rows keep their verdict


def test_targets_not_run_are_not_measured():
    rows = [r for r in ROWS if r["scenario"] not in ("server-large", "server-seeds")]
    judged = _judged(rows)
    assert "memory_large" not in judged  # --skip-memory
    assert judged["seeds_server"]["met"] is None


def test_critical_path_divides_only_the_batch_work_by_the_workers():
    # discover + commit + report + 5 s / 2
    assert bench.critical_seconds(STAGES_1S, 2) == 5.5
    assert bench.critical_seconds(STAGES_1S, 1) == 8.0
    assert bench.overhead_share(5.0, 4.0) == pytest.approx(0.2)
    assert bench.overhead_share(None, 4.0) is None


def test_workers_used_is_one_for_a_single_batch():
    params = {"workers": 2, "batch_size": 500}
    assert bench.workers_used(params, 8900) == 2
    assert bench.workers_used(params, 500) == 1
    assert bench.workers_used(params, 501) == 2
    assert bench.workers_used({}, None) == 1


def test_start_floor_splits_off_the_temporary_api():
    floor = report.start_floor({r["scenario"]: r for r in ROWS})
    assert floor["temporary_api_s"] == 6.5  # 8 s flow call alone, 1.5 s against the server
    assert floor["temporary_api_share"] == pytest.approx(0.722)
    assert report.start_floor({})["temporary_api_s"] is None


def test_median_row_keeps_one_whole_run_and_every_wall_time():
    runs = [{"scenario": "seeds", "returncode": 0, "wall_s": w, "flow_s": w / 2} for w in (3, 1, 2)]
    row = bench.median_row(runs)
    assert row["wall_s"] == 2 and row["flow_s"] == 1 and row["repeats_wall_s"] == [3, 1, 2]
    failed = [dict(runs[0], returncode=1, wall_s=0.1), runs[1]]
    assert bench.median_row(failed)["wall_s"] == 1  # a failed run is not a fast run


def test_loop_output_parsing():
    stdout = "missing: lix,rix\n2225 documents in 10.84 s (205.3 docs/s)\n"
    assert bench.parse_loop_output(stdout) == (2225, 10.84)
    assert bench.parse_loop_output("Traceback ...\n") == (None, None)
    assert bench.parse_loop_output("") == (None, None)


def test_json_line_is_the_last_one():
    assert bench.parse_json_line('log {\n{"flow_s": 1.5}\n') == {"flow_s": 1.5}
    assert bench.parse_json_line("no json\n") == {}


def _report() -> dict:
    rows = report.with_ratios(ROWS)
    return {
        "timestamp": "2026-01-02T03:04:05Z",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 4.0, "load_average_start": [2.5, 1, 1]},
        "versions": {"python": "3.11", "prefect": "3.9.1"},
        "corpus": "c",
        "scale": 4,
        "memory_scale": 40,
        "memory_n_documents": 1000,
        "n_documents": 100,
        "scenarios": rows,
        "floor": report.start_floor({r["scenario"]: r for r in rows}),
        "stage_cost": STAGE_COST,
        "micro": None,
        "verdicts": report.verdicts(rows, STAGE_COST),
    }


def test_markdown_has_one_row_per_scenario_with_its_ratio():
    text = report.render_markdown(_report())
    table = text.split("## Scenarios")[1].split("\n\n")[1].splitlines()
    assert len(table) == 2 + len(ROWS)
    server = next(line for line in table if line.startswith("| server |"))
    cells = [c.strip() for c in server.strip("|").split("|")]
    assert cells[report.SCENARIO_HEADERS.index("x naive docs/s")] == "5"
    assert cells[report.SCENARIO_HEADERS.index("overhead % flow")] == "20.0%"
    assert "MISSED" in text and "| met |" in text
    assert "at start 2.5 / 1.0 / 1.0, at end –" in text
    assert "6.5 s, 72.2% of the floor" in text
    assert "300 MiB at x4, 1,600 MiB at x40 (+433.3%)" in text
    assert "at the large run's peak: main 600 + worker 500 + worker 500 MiB." in text


def test_markdown_lists_failures_and_rows_that_did_not_run():
    written = _report()
    written["scenarios"] = written["scenarios"] + [
        bench.failed_row("naive-textstat-rs", "textstat-rs not installed: pip failed: no network")
    ]
    text = report.render_markdown(written)
    assert "| naive-textstat-rs | not run |" in text
    assert "- `naive-textstat-rs`: textstat-rs not installed: pip failed: no network" in text


def test_report_is_written_as_timestamped_and_latest_files(tmp_path: Path):
    paths = report.write_report(_report(), tmp_path)
    assert sorted(p.name for p in paths) == [
        "bench-20260102T030405Z.json", "bench-20260102T030405Z.md", "latest.json", "latest.md",
    ]  # fmt: skip
    assert (
        json.loads((tmp_path / "latest.json").read_text())["scenarios"][4]["scenario"] == "server"
    )
    assert (tmp_path / "latest.md").read_text() == (
        tmp_path / "bench-20260102T030405Z.md"
    ).read_text()


def test_summary_is_found_after_log_lines():
    stdout = 'INFO a {brace\n{broken\n{\n  "run_id": "r1",\n  "n_documents": 3\n}\ntrailing'
    assert bench.parse_summary(stdout) == {"run_id": "r1", "n_documents": 3}
    assert bench.parse_summary("no summary at all\n") == {}


def test_runs_row_timestamps_give_the_flow_time():
    started, finished = "2026-11-25 08:59:44.985978+00:00", "2026-11-25 08:59:46.822490+00:00"
    assert bench.seconds_between(started, finished) == pytest.approx(1.836512)
    assert bench.seconds_between(None, finished) is None


def test_quick_fills_only_the_options_left_unset():
    quick = bench.parse_args(["--quick", "--scale", "2"])
    assert (quick.scale, quick.memory_scale, quick.start_repeats) == (2, 2, 1)
    assert quick.skip_profile
    full = bench.parse_args([])
    assert (full.scale, full.memory_scale, full.start_repeats) == (4, 40, 3)
    assert not full.skip_profile


def test_a_command_past_its_timeout_is_killed_with_its_children():
    import psutil

    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    code = (
        f"import subprocess, time; print(subprocess.Popen({sleep!r}).pid, flush=True); "
        "time.sleep(60)"
    )
    measured = processes.run_measured([sys.executable, "-c", code], dict(os.environ), timeout=1.0)
    assert measured.timed_out and measured.returncode is None
    assert "main" in {part["role"] for part in measured.peak_parts}
    grandchild = int(measured.stdout.split()[0])
    assert measured.wall_s < 15
    assert not processes.LIVE
    with suppress(psutil.NoSuchProcess):  # gone, or dead and not yet reaped
        assert psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


# ---------------------------------------------------------------- hostile inputs

import hostile  # noqa: E402


def test_fill_repeats_whole_units_then_the_tail():
    assert hostile.fill(b"A b. ", 12) == b"A b. A b. "
    assert hostile.fill(b"a", 6, b". A") == b"aaa. A"
    assert len(hostile.fill(b"a\n\n", hostile.FULL.n_bytes)) <= hostile.FULL.n_bytes


def test_single_documents_stay_under_the_default_limit():
    assert hostile.QUICK.n_bytes < hostile.FULL.n_bytes < hostile.DEFAULT_MAX_BYTES


def test_tiny_files_alternate_empty_and_one_byte():
    sizes = [len(hostile.tiny_content(i)) for i in range(6)]
    assert sizes == [0, 1, 0, 1, 0, 1]
    assert len({hostile.tiny_content(i) for i in range(1, 200, 2)}) == 26


def _measured(**kw) -> processes.Measured:
    parts = [{"role": "main", "pid": 1, "mib": 400.0}, {"role": "api", "pid": 2, "mib": 200.0},
             {"role": "worker", "pid": 3, "mib": 300.0}]  # fmt: skip
    summary = {"n_documents": 1, "n_rejects": 9, "rejects_by_reason": {"duplicate": 9},
               "stage_seconds": {"ingest": 2.0, "clean": 0.5}}  # fmt: skip
    fields = {"returncode": 0, "stdout": "log line\n" + json.dumps(summary), "stderr": "",
              "wall_s": 12.34567, "peak_mib": 900.0, "peak_parts": parts} | kw  # fmt: skip
    return processes.Measured(**fields)


def test_hostile_row_takes_the_temporary_api_out_of_the_peak():
    row = hostile.hostile_row(hostile.INPUTS[0], 9_500_000, None, _measured())
    assert (row["peak_tree_mib"], row["api_mib"], row["peak_mib"]) == (900.0, 200.0, 700.0)
    assert (row["documents"], row["rejects"]) == (1, 9)
    assert row["rejects_by_reason"] == {"duplicate": 9} and row["wall_s"] == 12.346
    assert "error" not in row


def test_hostile_row_of_a_killed_command_says_so():
    measured = _measured(returncode=None, stdout="", timed_out=True, wall_s=600.2)
    row = hostile.hostile_row(hostile.INPUTS[0], 10, None, measured)
    assert row["documents"] is None and row["error"] == "killed after 600 s (timeout)"


def _hostile_rows(**changes) -> dict:
    rows = [
        {"input": "sentences", "what": "one .txt", "bytes": 9_500_000, "max_bytes": None,
         "returncode": 0, "wall_s": 40.0, "documents": 1, "rejects": 0, "rejects_by_reason": {},
         "stage_seconds": {"ingest": 1.0, "readability": 30.0}, "peak_mib": 900.0,
         "api_mib": 200.0},
        {"input": "records-jsonl", "what": "a .jsonl", "bytes": 15_000_000,
         "max_bytes": 15_000_000, "returncode": 0, "wall_s": 90.0, "documents": 1,
         "rejects": 999_999, "rejects_by_reason": {"duplicate": 999_999, "empty": 1},
         "stage_seconds": {"ingest": 60.0}, "peak_mib": 1200.0, "api_mib": 210.0},
    ]  # fmt: skip
    for name, fields in changes.items():
        rows = [dict(r, **fields) if r["input"] == name else r for r in rows]
    return {"scale_mb": 9.5, "records": 1_000_000, "workers": 2, "timeout_s": 600, "rows": rows}


def test_hostile_target_is_the_highest_peak_and_any_failure_misses_it():
    assert report.hostile_verdict(_hostile_rows())["met"] is True
    assert report.hostile_verdict(_hostile_rows())["value"] == 1200.0
    over = report.hostile_verdict(_hostile_rows(sentences={"peak_mib": 1600.0}))
    assert over["met"] is False and over["miss"] == "64 MiB over"
    crashed = report.hostile_verdict(_hostile_rows(sentences={"returncode": 1}))
    assert crashed["met"] is False and crashed["miss"] == "run failed: sentences exit 1"


def test_hostile_checks_memory_and_time_apart():
    timeout = 600
    assert report.hostile_checks({"peak_mib": 1536.0, "returncode": 0, "wall_s": 10}, timeout) == (
        True, True,
    )  # fmt: skip
    killed = {"peak_mib": 2000.0, "returncode": None, "wall_s": 601}
    assert report.hostile_checks(killed, timeout) == (False, False)
    assert report.hostile_checks({"returncode": None}, timeout) == (None, False)


def test_hostile_cells():
    assert report.slowest_stage({"ingest": 1.0, "readability": 30.0}) == "readability 30 s"
    assert report.slowest_stage(None) == "–"
    assert report.reasons_cell({"empty": 1, "duplicate": 999_999}) == "duplicate 999,999, empty 1"
    assert report.reasons_cell({}) == "–"


def test_hostile_section_says_plainly_whether_the_target_is_met():
    lines = report.hostile_lines(_hostile_rows())
    assert len([line for line in lines if line.startswith("| ")]) == 3  # header and two inputs
    text = "\n".join(lines)
    assert "| records-jsonl | 15.00 | 0 | 90 | 1 | 999,999 | duplicate 999,999, empty 1 |" in text
    assert "The 1.5 GiB target is met" in text and "1,200 MiB (`records-jsonl`)" in text
    assert "(run with --max-bytes 15000000: above the default limit)" in text
    killed = _hostile_rows(sentences={"returncode": None, "peak_mib": 1700.0, "wall_s": 600.1})
    text = "\n".join(report.hostile_lines(killed))
    assert "The 1.5 GiB target is NOT met: `sentences` peaked at 1,700 MiB;" in text
    assert "Killed at the 600 s timeout: sentences." in text
    assert report.hostile_lines(None) == ["(not run)"]


def test_report_judges_and_shows_the_hostile_section():
    written = _report()
    written["hostile"] = _hostile_rows()
    written["verdicts"] = report.verdicts(written["scenarios"], STAGE_COST, written["hostile"])
    assert written["verdicts"][-1]["target"] == "memory_hostile"
    text = report.render_markdown(written)
    assert "## Hostile inputs (bench/hostile.py)" in text and "| sentences | 9.50 |" in text
    assert "Hostile inputs (bench/hostile.py)\n\n(not run)" in report.render_markdown(_report())


def test_hostile_runs_by_default_and_can_be_skipped():
    assert not bench.parse_args([]).skip_hostile
    assert bench.parse_args(["--skip-hostile"]).skip_hostile
    args = hostile.parse_args([])
    assert (args.scale_mb, args.records) == (9.5, 1_000_000)


def test_runs_json_columns_are_read_as_objects_or_as_json_text():
    row = {"parameters": {"workers": 2}, "stage_seconds": '{"ingest": 1.5}'}
    assert bench.parameters(row) == {"workers": 2}
    assert bench.nested(row["stage_seconds"]) == {"ingest": 1.5}
    assert bench.nested(None) == {} and bench.nested("not json") == {}


# ---------------------------------------------------------------- near-duplicates

import near_duplicate_cases as cases  # noqa: E402


def test_near_duplicate_cost_is_the_server_run_over_the_run_without_links():
    judged = _judged()["near_duplicate_cost"]
    assert judged["value"] == 11.1 and judged["met"] is True  # 2.0 s against 1.8 s
    faster = [dict(r, wall_s=1.6) if r["scenario"] == "server-no-near-duplicates" else r
              for r in ROWS]  # fmt: skip
    assert _judged(faster)["near_duplicate_cost"]["miss"] == "10% over"
    crashed = [dict(r, returncode=1) if r["scenario"] == "server-no-near-duplicates" else r
               for r in ROWS]  # fmt: skip
    assert _judged(crashed)["near_duplicate_cost"]["miss"] == (
        "run failed: server-no-near-duplicates exit 1"
    )
    alone = [r for r in ROWS if r["scenario"] != "server-no-near-duplicates"]
    assert _judged(alone)["near_duplicate_cost"]["met"] is None


def test_near_duplicate_cost_compares_the_medians_of_alternating_runs():
    rows = [
        dict(r, near_duplicates_on_wall_s=[2.0, 1.9, 5.0])
        if r["scenario"] == "server"
        else dict(r, repeats_wall_s=[1.5, 1.7, 9.0])
        if r["scenario"] == "server-no-near-duplicates"
        else r
        for r in ROWS
    ]
    judged = _judged(rows)["near_duplicate_cost"]
    assert judged["value"] == 17.6 and judged["met"] is False  # medians 2.0 s against 1.7 s
    lines = report.near_duplicate_cost_lines(rows)
    assert "on 2, 1.9, 5; off 1.5, 1.7, 9; medians 2 s on, 1.7 s off (+17.6%)" in lines[0]


def test_stage_table_has_the_near_duplicate_stage_before_the_commit():
    table = report.stage_table(report.with_ratios(ROWS))
    assert table[0].endswith("| statistics | near_duplicates | commit | report |")
    assert "| server-no-near-duplicates | 1 | 1 | 1 | 1 | 1 | 0 | 1 | 1 |" in table


def _quality(kind: str, duplicate: bool, precision: float, recall: float) -> dict:
    return {"kind": kind, "duplicate": duplicate, "pairs": 10, "predicted": 9,
            "precision": precision, "recall": recall}  # fmt: skip


def _near_duplicates(**run) -> dict:
    rows = [_quality("all", True, 0.97, 0.95), _quality("outlet", True, 0.99, 1.0),
            _quality("truncated", True, 0.96, 0.85), _quality("same_topic", False, 0.94, 0.95),
            _quality("random", False, 1.0, 0.95)]  # fmt: skip
    facts = {"returncode": 0, "wall_s": 20.0, "inputs": 50, "documents": 49,
             "rejects_by_reason": {"duplicate": 1}, "not_committed": 0} | run  # fmt: skip
    return {"per_kind": 10, "seed": 2005, "shingle_size": 5, "threshold": 0.45, "documents": 50,
            "pairs": 40, "direct": [dict(r, predicted=8) for r in rows], "through_run": rows,
            "run": facts}  # fmt: skip


def test_near_duplicate_targets_judge_the_worst_kind_through_the_run():
    precision, recall = report.near_duplicate_verdicts(_near_duplicates())
    assert precision["value"] == 0.94 and precision["miss"] == "0.01 short"  # same_topic
    assert recall["value"] == 0.85 and recall["met"] is False  # truncated, a duplicate kind
    failed = report.near_duplicate_verdicts(_near_duplicates(returncode=None))
    assert failed[0]["miss"] == "run failed: proseflow run on the cases did not finish"
    broken = report.near_duplicate_verdicts({"error": "ValueError: no corpus"})
    assert broken[1]["met"] is False and broken[1]["value"] is None
    targets = [v["target"] for v in report.verdicts(ROWS, None, None, _near_duplicates())]
    assert targets[-2:] == ["near_duplicate_precision", "near_duplicate_recall"]


def test_near_duplicate_section_shows_both_measurements_per_kind():
    lines = report.near_duplicate_lines(_near_duplicates())
    assert "| truncated | duplicate | 10 | 8 | 0.960 | 0.850 | 9 | 0.960 | 0.850 |" in lines
    assert "| all |  | 10 | 8 | 0.970 | 0.950 | 9 | 0.970 | 0.950 |" in lines
    assert "49 documents committed, rejects: duplicate 1; 0 case documents" in "\n".join(lines)
    failed = report.near_duplicate_lines(
        _near_duplicates(returncode=1, error="Traceback\nOutputError: no space")
    )
    assert "The run on the case documents failed (exit 1): OutputError: no space" in failed
    assert report.near_duplicate_lines(None) == ["(not run)"]
    written = dict(_report(), near_duplicates=_near_duplicates())
    assert "## Near-duplicates (bench/near_duplicate_cases.py)\n\n| kind |" in (
        report.render_markdown(written)
    )


TEXTS = {
    "sport/1": "Caf\u00e9 owners win the cup\n\nThey won it again.",
    "sport/1~edited": "Caf\u00e9 owners lose the cup\n\nThey won it again.",
    "sport/2": "Second story\n\nSame bytes twice.",
    "tech/3": "Second story\n\nSame bytes twice.",
    "tech/4": "",
    "tech/5": "A story of its own.",
}
TINY = cases.CaseSet(
    TEXTS,
    [cases.Case("edited", True, "sport/1", "sport/1~edited"),  # linked
     cases.Case("truncated", True, "sport/2", "tech/3"),  # byte-identical
     cases.Case("random", False, "sport/1", "tech/5"),  # both committed, not linked
     cases.Case("same_topic", False, "tech/4", "tech/5")],  # tech/4 rejected as empty
)  # fmt: skip


def test_case_files_are_utf8_under_their_collection(tmp_path: Path):
    paths = cases.write_cases(TINY, tmp_path / "cases")
    assert paths["sport/1~edited"] == tmp_path / "cases" / "sport" / "1-edited.txt"
    assert paths["sport/1"].read_bytes() == TEXTS["sport/1"].encode("utf-8")
    assert sorted(p.name for p in (tmp_path / "cases" / "tech").iterdir()) == [
        "3.txt", "4.txt", "5.txt",
    ]  # fmt: skip
    clash = cases.CaseSet({"sport/a~b": "x", "sport/a b": "y"}, [])
    with pytest.raises(ValueError, match="share a file name"):
        cases.case_paths(clash, tmp_path)


def _write(output: Path, dataset: str, rows: list[dict]) -> None:
    folder = output / dataset / "run-r1"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-00000.parquet")


def test_committed_output_maps_case_files_to_predicted_pairs(tmp_path: Path):
    paths = cases.write_cases(TINY, tmp_path / "cases")
    uri = {doc: str(path) for doc, path in paths.items()}
    output = tmp_path / "out"
    _write(output, "documents", [{"doc_id": f"id-{d}", "source_uri": uri[d]}
                                 for d in ("sport/1", "sport/1~edited", "sport/2", "tech/5")])  # fmt: skip
    _write(output, "rejects", [
        {"source_uri": uri["tech/3"], "doc_id": "id-sport/2", "reason": "duplicate",
         "detail": f"same bytes as {uri['sport/2']}"},
        {"source_uri": uri["tech/4"], "doc_id": None, "reason": "empty", "detail": "no text"},
    ])  # fmt: skip
    _write(output, "near_duplicates", [
        {"doc_id": "id-sport/1", "representative_id": "id-sport/1"},
        {"doc_id": "id-sport/1~edited", "representative_id": "id-sport/1"},
    ])  # fmt: skip
    (output / "runs").mkdir()
    pq.write_table(runs_row("r1"), output / "runs" / "run-r1.parquet")
    committed = cases.read_committed(output)
    assert (
        committed.doc_ids[uri["tech/3"]] == "id-sport/2" and uri["tech/4"] not in committed.doc_ids
    )
    predicted = cases.pipeline_duplicates(TINY, paths, committed)
    assert predicted == [True, True, False, False]
    quality = {row.kind: row for row in cases.measure(TINY, predicted)}
    assert (quality["all"].precision, quality["all"].recall) == (1.0, 1.0)


def test_near_duplicate_section_options():
    quick, full = bench.parse_args(["--quick"]), bench.parse_args([])
    assert (quick.near_duplicate_pairs, full.near_duplicate_pairs) == (40, 150)
    assert bench.parse_args(["--near-duplicate-pairs", "7"]).near_duplicate_pairs == 7
    assert not full.skip_near_duplicates
    assert bench.parse_args(["--skip-near-duplicates"]).skip_near_duplicates
