"""Tests for bench/run.py: the scaled corpus builder and the report writer (no timing)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

BENCH_RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH_RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


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


ROWS = [
    {"scenario": "naive", "inputs": 100, "documents": 100, "wall_s": 10.0, "flow_s": 8.0,
     "peak_mib": 200.0},
    {"scenario": "server", "inputs": 100, "documents": 98, "wall_s": 2.0, "flow_s": 1.0,
     "peak_mib": 300.0, "stage_seconds": dict.fromkeys(bench.STAGES, 0.1), "stage_sum_s": 0.6,
     "overhead_flow_share": 0.4, "overhead_cmd_share": 0.7},
    {"scenario": "server-rerun", "inputs": 100, "documents": 0, "wall_s": 0.5, "flow_s": 0.25,
     "peak_mib": 150.0},
    {"scenario": "server-seeds", "inputs": 1, "documents": 1, "wall_s": 3.0, "flow_s": 1.0,
     "peak_mib": 250.0},
    {"scenario": "server-memory", "inputs": 1000, "documents": 1000, "wall_s": 20.0,
     "flow_s": 18.0, "peak_mib": 360.0},
]  # fmt: skip


def test_ratios_are_relative_to_the_naive_row():
    rows = {r["scenario"]: r for r in bench.with_ratios(ROWS)}
    assert rows["naive"]["throughput_ratio"] == 1.0
    assert rows["server"]["docs_per_s"] == 50.0
    assert rows["server"]["throughput_ratio"] == 5.0  # 50 docs/s against 10
    assert rows["server"]["flow_throughput_ratio"] == 8.0  # 100 / 1 s against 100 / 8 s
    assert rows["server"]["time_ratio"] == 5.0  # 10 s against 2 s
    assert rows["server-seeds"]["time_ratio"] is None  # another corpus: no time ratio


def test_verdicts_judge_each_target():
    judged = {v["target"]: v for v in bench.verdicts(bench.with_ratios(ROWS), None)}
    assert judged["throughput"]["met"] is False and judged["throughput"]["miss"] == "3x short"
    assert judged["overhead"]["value"] == 40.0 and judged["overhead"]["met"] is False
    assert judged["rerun"]["value"] == 25.0 and judged["rerun"]["met"] is False
    assert judged["memory_peak"]["met"] is True
    assert judged["memory_growth"]["value"] == 20.0 and judged["memory_growth"]["met"] is True
    assert judged["seeds"]["met"] is True


def test_memory_growth_is_judged_on_the_measured_peaks_not_rounded_ratios():
    rows = [dict(r, peak_mib=722.5) if r["scenario"] == "server-memory" else r for r in ROWS]
    rows = [dict(r, peak_mib=556.9) if r["scenario"] == "server" else r for r in rows]
    judged = {v["target"]: v for v in bench.verdicts(bench.with_ratios(rows), None)}
    assert judged["memory_growth"]["value"] == 29.7 and judged["memory_growth"]["met"] is True


def test_micro_verdicts_cover_the_engine_and_the_whole_stage():
    micro = {
        "readability": {"speedup": 12.0, "stage_speedup": 9.5},
        "segmentation": {"speedup": 40.0},
    }
    judged = {v["target"]: v for v in bench.verdicts(bench.with_ratios(ROWS), micro)}
    assert judged["readability_micro"]["met"] is True
    assert judged["readability_stage"]["met"] is False
    assert judged["readability_stage"]["miss"] == "0.5x short"
    assert judged["segmenter_micro"]["met"] is True


def test_a_failed_run_misses_its_targets_whatever_it_measured():
    rows = [dict(r, returncode=1) if r["scenario"] == "server-memory" else r for r in ROWS]
    judged = {v["target"]: v for v in bench.verdicts(bench.with_ratios(rows), None)}
    assert judged["memory_peak"]["met"] is False
    assert judged["memory_peak"]["miss"] == "run failed: server-memory exit 1"
    assert judged["memory_growth"]["met"] is False and judged["seeds"]["met"] is True


def _report() -> dict:
    rows = bench.with_ratios(ROWS)
    return {
        "timestamp": "2026-01-02T03:04:05Z",
        "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 4.0},
        "versions": {"python": "3.11", "prefect": "3.9.1"},
        "corpus": "c",
        "scale": 4,
        "memory_scale": 40,
        "memory_n_documents": 1000,
        "n_documents": 100,
        "scenarios": rows,
        "micro": None,
        "verdicts": bench.verdicts(rows, None),
    }


def test_markdown_has_one_row_per_scenario_with_its_ratio():
    text = bench.render_markdown(_report())
    table = text.split("## Scenarios")[1].split("\n\n")[1].splitlines()
    assert len(table) == 2 + len(ROWS)
    server = next(line for line in table if line.startswith("| server |"))
    cells = [c.strip() for c in server.strip("|").split("|")]
    assert cells[bench.SCENARIO_HEADERS.index("x naive docs/s")] == "5"
    assert cells[bench.SCENARIO_HEADERS.index("overhead % flow")] == "40.0%"
    assert "MISSED" in text and "| met |" in text


def test_report_is_written_as_timestamped_and_latest_files(tmp_path: Path):
    paths = bench.write_report(_report(), tmp_path)
    assert sorted(p.name for p in paths) == [
        "bench-20260102T030405Z.json", "bench-20260102T030405Z.md", "latest.json", "latest.md",
    ]  # fmt: skip
    assert (
        json.loads((tmp_path / "latest.json").read_text())["scenarios"][1]["scenario"] == "server"
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
