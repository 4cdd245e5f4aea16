"""End-to-end benchmark: proseflow against the naive textstat loop, on a scaled copy of a corpus.

    python bench/run.py [--corpus DIR] [--scale 4] [--memory-scale 40] [--skip-memory] [--out DIR]

Builds SCALE distinct copies of the corpus under bench/work/, runs the naive script, proseflow on
the embedded API, and proseflow against a Prefect server this script starts on a free loopback port
(first run, unchanged rerun, --workers 2, seeds/, one run at MEMORY-SCALE for peak memory). Measures
wall time, documents/s, peak RSS of each process tree, seconds per stage and orchestration overhead;
adds bench/micro.py; writes bench-<UTC>.json/.md and latest.json/.md to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
BIN = Path(sys.executable).parent
DEFAULT_CORPUS = Path("../shared/corpora/bbc")
NAIVE_SCRIPT = REPO.parent / "shared" / "bench" / "naive_textstat.py"
SEEDS = REPO / "seeds"
# What the naive script reads: case-sensitive, so README.TXT is left out.
SUFFIXES = (".txt", ".md")
STAGES = ("discover", "ingest", "clean", "readability", "statistics", "commit")
QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
}
SAMPLE_SECONDS = 0.05
MIB = 1024 * 1024

# Scenario names: the report's row keys.
NAIVE = "naive"
EMBEDDED = "embedded"
SERVER_FIRST = "server"
SERVER_RERUN = "server-rerun"
SERVER_WORKERS = "server-workers2"
SERVER_SEEDS = "server-seeds"
SERVER_MEMORY = "server-memory"

DESCRIPTIONS = {
    NAIVE: "naive_textstat.py: one loop, textstat per file, pandas to Parquet",
    EMBEDDED: "proseflow run, embedded (ephemeral) Prefect API",
    SERVER_FIRST: "proseflow run against a Prefect server, fresh output",
    SERVER_RERUN: "same command again on the unchanged corpus (same output)",
    SERVER_WORKERS: "proseflow run --workers 2 against the server, fresh output",
    SERVER_SEEDS: "proseflow run seeds/ against the server, fresh output",
    SERVER_MEMORY: "proseflow run at --memory-scale against the server, fresh output",
}

# Targets: (key, statement).
TARGETS = {
    "throughput": "proseflow against the server >= 8x the naive script's documents/s",
    "overhead": "orchestration overhead <= 10% of the flow's wall time",
    "rerun": "unchanged rerun <= 10% of the first run's wall time",
    "memory_peak": "peak memory <= 1 GiB at --memory-scale",
    "memory_growth": "peak memory grows < 30% from --scale to --memory-scale",
    "seeds": "proseflow run seeds/ against a running server < 4 s",
    "readability_micro": "readability engine >= 10x textstat per document",
    "readability_stage": "readability stage (with language detection) >= 10x textstat per document",
    "segmenter_micro": "segmenter >= 10x pysbd per document",
}

MICRO_TARGETS = {"readability_micro", "readability_stage", "segmenter_micro"}  # no run to profile

# ---------------------------------------------------------------- corpus


def copy_line(copy: int) -> bytes:
    """The line appended to copy number `copy` so that its bytes, hence its doc_id, are unique."""
    return f"\ncopy {copy}\n".encode("ascii")


def corpus_files(source: Path) -> list[Path]:
    """The documents of `source` the naive script would read, sorted."""
    return sorted(p for p in source.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def build_corpus(source: Path, dest: Path, scale: int) -> dict:
    """Write `scale` distinct copies of each document of `source` into its folder under `dest`."""
    files = corpus_files(source)
    stamp = dest.with_name(dest.name + ".json")
    manifest = {"source": str(source.resolve()), "scale": scale, "n_documents": len(files) * scale}
    if stamp.exists() and dest.exists() and json.loads(stamp.read_text()) == manifest:
        return manifest  # already built from the same source at the same scale
    shutil.rmtree(dest, ignore_errors=True)
    for path in files:
        raw = path.read_bytes()
        body = raw if raw.endswith(b"\n") else raw + b"\n"
        folder = dest / path.parent.relative_to(source)
        folder.mkdir(parents=True, exist_ok=True)
        for copy in range(scale):
            (folder / f"{path.stem}-{copy}{path.suffix}").write_bytes(body + copy_line(copy))
    stamp.write_text(json.dumps(manifest))
    return manifest


# ---------------------------------------------------------------- measuring


@dataclass
class Measured:
    """A finished command: exit code, output, wall time and the peak RSS of its process tree."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_mib: float


def tree_rss(pid: int) -> int:
    """Resident bytes of process `pid` and all its descendants (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with suppress(psutil.Error):  # a child may exit between listing and reading
            total += proc.memory_info().rss
    return total


class PeakSampler:
    """Samples the RSS of a process tree in a thread, keeping the peak."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: Sequence[str], env: dict[str, str], timeout: float = 3600) -> Measured:
    """Run `cmd` from the repository root, timing it and sampling its tree's peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with PeakSampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - started
    return Measured(proc.returncode, stdout, stderr, wall, sampler.peak / MIB)


def base_env(prefect_home: Path, api_url: str | None) -> dict[str, str]:
    """The environment of a benchmarked command: quiet, its own PREFECT_HOME, the chosen API."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(QUIET_ENV, PREFECT_HOME=str(prefect_home))
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


# ---------------------------------------------------------------- prefect server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the API at `url` answers /health."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class Server:
    """A Prefect server started by the benchmark."""

    url: str
    process: subprocess.Popen
    startup_s: float
    sampler: PeakSampler


@contextmanager
def prefect_server(home: Path, timeout: float = 120) -> Iterator[Server]:
    """Run `prefect server start` on a free loopback port with its own PREFECT_HOME; stop it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = base_env(home, url)  # the UI calls the API at PREFECT_API_URL
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    log = (home / "server.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        while not healthy(url):
            if process.poll() is not None or time.perf_counter() - started > timeout:
                raise RuntimeError(
                    f"Prefect server did not come up on {url}; see {home / 'server.log'}"
                )
            time.sleep(0.2)
        startup = time.perf_counter() - started
        with PeakSampler(process.pid, interval=0.5) as sampler:
            yield Server(url, process, startup, sampler)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ask a process to stop with Ctrl-C, terminate it if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait()


# ---------------------------------------------------------------- scenarios


def parse_summary(stdout: str) -> dict:
    """The JSON summary `proseflow run --json` prints: the first JSON object opening a line."""
    decoder, offset = json.JSONDecoder(), 0
    for line in stdout.splitlines(keepends=True):
        if line.startswith("{"):
            with suppress(json.JSONDecodeError):
                return decoder.raw_decode(stdout[offset:])[0]
        offset += len(line)
    return {}


def runs_row(output: Path, run_id: str | None, env: dict[str, str]) -> dict:
    """The runs row of `run_id` (else the newest) from `proseflow runs --json`."""
    cmd = [str(BIN / "proseflow"), "runs", "--json", "--output", str(output)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    matching = [r for r in rows if r.get("run_id") == run_id]
    return (matching or rows or [{}])[-1]


def seconds_between(started: str | None, finished: str | None) -> float | None:
    """finished - started in seconds, from the runs row's timestamps."""
    if not started or not finished:
        return None
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def stage_seconds(row: dict, summary: dict) -> dict[str, float]:
    """Seconds per stage: the runs row's, with any stage it records as 0 taken from the summary."""
    recorded = json.loads(row.get("stage_seconds") or "{}")
    printed = summary.get("stage_seconds") or {}
    return {s: float(recorded.get(s) or printed.get(s) or 0.0) for s in STAGES}


def proseflow_result(name: str, measured: Measured, output: Path, env: dict[str, str]) -> dict:
    """One scenario's row from a finished `proseflow run --json` and its runs row."""
    summary = parse_summary(measured.stdout)
    row = runs_row(output, summary.get("run_id"), env) if measured.returncode == 0 else {}
    stages = stage_seconds(row, summary)
    inside = sum(stages.values())
    flow_s = seconds_between(row.get("started_at"), row.get("finished_at"))
    result = {
        "scenario": name,
        "description": DESCRIPTIONS[name],
        "returncode": measured.returncode,
        "documents": summary.get("n_documents"),
        "inputs": summary.get("n_inputs"),
        "skipped": summary.get("n_skipped"),
        "rejects": summary.get("n_rejects"),
        "wall_s": round(measured.wall_s, 3),
        "flow_s": None if flow_s is None else round(flow_s, 3),
        "peak_mib": round(measured.peak_mib, 1),
        "stage_seconds": stages,
        "stage_sum_s": round(inside, 3),
        "overhead_flow_s": None if flow_s is None else round(flow_s - inside, 3),
        "overhead_flow_share": None if not flow_s else round((flow_s - inside) / flow_s, 4),
        "overhead_cmd_share": round((measured.wall_s - inside) / measured.wall_s, 4),
        "runs_row_stage_seconds": row.get("stage_seconds"),
    }
    if measured.returncode != 0:
        result["error"] = (measured.stderr or measured.stdout).strip()[-2000:]
    return result


def naive_result(measured: Measured, n_documents: int) -> dict:
    """The naive script's row; its own printed compute time stands in for the flow time."""
    printed = measured.stdout.strip().splitlines()[-1:] or [""]
    parts = printed[0].split()
    inner = float(parts[3]) if len(parts) > 3 and parts[1] == "documents" else None
    result = {
        "scenario": NAIVE,
        "description": DESCRIPTIONS[NAIVE],
        "returncode": measured.returncode,
        "documents": int(parts[0]) if inner is not None else n_documents,
        "inputs": n_documents,
        "wall_s": round(measured.wall_s, 3),
        "flow_s": inner,
        "peak_mib": round(measured.peak_mib, 1),
    }
    if measured.returncode != 0:
        result["error"] = measured.stderr.strip()[-2000:]
    return result


def proseflow_cmd(source: Path, output: Path, *extra: str) -> list[str]:
    """`proseflow run SOURCE --output OUTPUT --json [extra]`."""
    return [str(BIN / "proseflow"), "run", str(source), "--output", str(output), "--json", *extra]


def fresh(path: Path) -> Path:
    """`path`, emptied."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- report


def throughput(row: dict) -> float | None:
    """Inputs handled per second of command wall time."""
    n = row.get("inputs") or row.get("documents")
    return n / row["wall_s"] if n and row.get("wall_s") else None


def flow_throughput(row: dict) -> float | None:
    """Inputs handled per second of flow time (naive: its own printed compute time)."""
    n = row.get("inputs") or row.get("documents")
    return n / row["flow_s"] if n and row.get("flow_s") else None


def with_ratios(rows: list[dict]) -> list[dict]:
    """Rows with documents/s and ratios to the naive row (time ratio only on the naive corpus)."""
    naive = next((r for r in rows if r["scenario"] == NAIVE), None)
    base, base_flow = (throughput(naive), flow_throughput(naive)) if naive else (None, None)
    out = []
    for row in rows:
        row = dict(
            row,
            docs_per_s=_round(throughput(row), 1),
            flow_docs_per_s=_round(flow_throughput(row), 1),
        )
        row["throughput_ratio"] = _ratio(throughput(row), base)
        row["flow_throughput_ratio"] = _ratio(flow_throughput(row), base_flow)
        same = naive is not None and row.get("inputs") == naive.get("inputs")
        row["time_ratio"] = _ratio(naive["wall_s"], row.get("wall_s")) if same else None
        out.append(row)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def _percent(a: float | None, b: float | None) -> float | None:
    return round(100 * a / b, 1) if a and b else None


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def verdict(
    key: str, value: float | None, limit: float, higher_is_better: bool, unit: str, failed: str = ""
) -> dict:
    """A target's verdict: measured value, limit, whether it is met and by how much it misses."""
    met = None if value is None else (value >= limit if higher_is_better else value <= limit)
    if key == "memory_growth":  # the only strict limit
        met = None if value is None else value < limit
    miss = None
    if failed:  # a value from a run that did not finish proves nothing
        met, miss = False, f"run failed: {failed}"
    elif met is False:
        miss = f"{abs(value - limit):.3g}{unit} {'short' if higher_is_better else 'over'}"
    return {"target": key, "statement": TARGETS[key], "value": value, "limit": limit, "unit": unit,
            "met": met, "miss": miss}  # fmt: skip


def verdicts(rows: list[dict], micro: dict | None) -> list[dict]:
    """Every target, judged from the scenario rows and the micro-benchmarks."""
    by = {r["scenario"]: r for r in rows}
    first, rerun = by.get(SERVER_FIRST, {}), by.get(SERVER_RERUN, {})
    memory, seeds = by.get(SERVER_MEMORY, {}), by.get(SERVER_SEEDS, {})
    share = first.get("overhead_flow_share")
    # Percentages from the measured values, not from the 2-digit ratios of the table.
    rerun_share = _percent(rerun.get("wall_s"), first.get("wall_s"))
    growth = _percent(memory.get("peak_mib"), first.get("peak_mib"))
    growth = None if growth is None else round(growth - 100, 1)
    share = None if share is None else round(100 * share, 1)
    out = [
        verdict("throughput", first.get("throughput_ratio"), 8.0, True, "x", failed(first)),
        verdict("overhead", share, 10.0, False, "%", failed(first)),
        verdict("rerun", rerun_share, 10.0, False, "%", failed(first, rerun)),
        verdict("memory_peak", memory.get("peak_mib"), 1024.0, False, " MiB", failed(memory)),
        verdict("memory_growth", growth, 30.0, False, "%", failed(first, memory)),
        verdict("seeds", seeds.get("wall_s"), 4.0, False, " s", failed(seeds)),
    ]
    if micro:
        r = micro["readability"]
        out.append(verdict("readability_micro", r["speedup"], 10.0, True, "x"))
        out.append(verdict("readability_stage", r.get("stage_speedup"), 10.0, True, "x"))
        out.append(verdict("segmenter_micro", micro["segmentation"]["speedup"], 10.0, True, "x"))
    return out


def failed(*rows: dict) -> str:
    """The scenarios among `rows` whose command exited non-zero, with their exit codes."""
    return ", ".join(f"{r['scenario']} exit {r['returncode']}" for r in rows if r.get("returncode"))


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


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
    "naive time / time", "flow docs/s", "x naive (flow)", "peak MiB", "stages s",
    "overhead % flow", "overhead % wall",
)  # fmt: skip


def scenario_table(rows: list[dict]) -> list[str]:
    """One line per scenario: times, throughput, ratios, memory and overhead."""
    body = [
        (
            r["scenario"],
            r.get("returncode"),
            r.get("inputs"),
            r.get("documents"),
            r.get("wall_s"),
            r.get("flow_s"),
            r.get("docs_per_s"),
            r.get("throughput_ratio"),
            r.get("time_ratio"),
            r.get("flow_docs_per_s"),
            r.get("flow_throughput_ratio"),
            r.get("peak_mib"),
            r.get("stage_sum_s"),
            _pct(r.get("overhead_flow_share")),
            _pct(r.get("overhead_cmd_share")),
        )  # fmt: skip
        for r in rows
    ]
    return markdown_table(SCENARIO_HEADERS, body)


def stage_table(rows: list[dict]) -> list[str]:
    """Seconds per stage for each proseflow scenario."""
    body = [
        (r["scenario"], *(r["stage_seconds"].get(s) for s in STAGES))
        for r in rows
        if "stage_seconds" in r
    ]
    return markdown_table(("scenario", *STAGES), body)


def verdict_table(judged: list[dict]) -> list[str]:
    """Each target, its measured value and whether it was met."""
    mark = {True: "met", False: "MISSED", None: "not measured"}
    body = [
        (
            v["statement"],
            f"{_cell(v['value'])}{v['unit']}",
            f"{_cell(v['limit'])}{v['unit']}",
            mark[v["met"]],
            v["miss"] or "",
        )  # fmt: skip
        for v in judged
    ]
    return markdown_table(("target", "measured", "limit", "verdict", "missed by"), body)


def micro_lines(micro: dict | None) -> list[str]:
    """The micro-benchmark section."""
    if not micro:
        return ["(not run)"]
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


def render_markdown(report: dict) -> str:
    """The whole report as markdown."""
    m, v = report["machine"], report["versions"]
    lines = [
        f"# proseflow benchmark {report['timestamp']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
        + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"Corpus: {report['corpus']} x{report['scale']} = {report['n_documents']} documents"
        f" (memory run: {_cell(report.get('memory_n_documents'))} documents)."
        f" Prefect server: up in {_cell(report.get('server_startup_s'))} s,"
        f" peak {_cell(report.get('server_peak_mib'))} MiB (not counted in the rows).",
        "",
        "## Scenarios",
        "",
        *scenario_table(report["scenarios"]),
        "",
        "wall s: the command, process start to exit. flow s: the runs row's finished_at -"
        " started_at (naive: its own printed loop time). docs/s: inputs / time."
        " Overhead: time - sum of stage seconds, as a share of that time.",
        "",
        "## Seconds per stage",
        "",
        *stage_table(report["scenarios"]),
        "",
        "## Micro-benchmarks",
        "",
        *micro_lines(report.get("micro")),
        "",
        "## Targets",
        "",
        *verdict_table(report["verdicts"]),
    ]
    if report.get("profile"):
        lines += [
            "",
            "## Profile (top functions by own time, all threads)",
            "",
            "```",
            report["profile"],
            "```",
        ]
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
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 1)}


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


# ---------------------------------------------------------------- profile


# Leaves where a thread blocks in C (sleep, lock, queue, select): waiting, not work.
IDLE_FILES = ("threading.py", "selectors.py", "queue.py", "socket.py", "ssl.py")
IDLE_LEAVES = {("thread.py", "_worker"), ("flow_engine.py", "heartbeat_loop")}


def idle(frame) -> bool:
    """Whether a thread whose innermost Python frame is `frame` is blocked rather than working."""
    path, name = frame.f_code.co_filename, frame.f_code.co_name
    return path.endswith(IDLE_FILES) or (os.path.basename(path), name) in IDLE_LEAVES


def sample_threads(
    stop: threading.Event, own: Counter, total: Counter, interval: float = 0.005
) -> None:
    """Add, every `interval`, the elapsed seconds to each busy thread's leaf (own) and stack."""
    me, last = threading.get_ident(), time.perf_counter()
    while not stop.wait(interval):
        # Weighted by the real gap: under GIL contention samples come later than `interval`.
        now = time.perf_counter()
        elapsed, last = now - last, now
        for tid, frame in sys._current_frames().items():
            if tid == me or idle(frame):
                continue
            own[_where(frame)] += elapsed
            seen = set()
            while frame is not None:
                seen.add(_where(frame))
                frame = frame.f_back
            for name in seen:
                total[name] += elapsed


def _where(frame) -> str:
    code = frame.f_code
    path = code.co_filename
    short = (
        path.split("site-packages/")[-1]
        if "site-packages/" in path
        else os.path.relpath(path, REPO)
    )
    return f"{code.co_name} ({short}:{code.co_firstlineno})"


def profile_text(own: Counter, total: Counter, interval: float, top: int = 10) -> str:
    """Top functions by own time and by cumulative time, as text."""
    lines = [f"own s    function (sampled every {interval * 1000:.0f} ms over all busy threads)"]
    lines += [f"{seconds:7.2f}  {name}" for name, seconds in own.most_common(top)]
    lines += ["", "cumul s  function"]
    lines += [f"{seconds:7.2f}  {name}" for name, seconds in total.most_common(top + 10)]
    return "\n".join(lines)


def profile_child(out: Path, argv: list[str]) -> int:
    """Run `proseflow ARGV` here while sampling every thread; write the profile to `out`."""
    from flows.cli import main as proseflow

    own, total, stop_event = Counter(), Counter(), threading.Event()
    sampler = threading.Thread(target=sample_threads, args=(stop_event, own, total), daemon=True)
    sampler.start()
    try:
        code = proseflow(argv)
    finally:
        stop_event.set()
        sampler.join()
    out.write_text(profile_text(own, total, 0.005))
    return code


def profile_run(source: Path, output: Path, env: dict[str, str], out: Path) -> str:
    """Profile one proseflow run (all threads) in a child process; return the profile text."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--profile-child", str(out), "--",
           "run", str(source), "--output", str(output)]  # fmt: skip
    out.unlink(missing_ok=True)
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if not out.exists():
        return f"profile failed: {done.stderr.strip()[-500:]}"
    return out.read_text()


def profile_first_and_rerun(source: Path, work: Path, env: dict[str, str], out: Path) -> str:
    """Profiles of a first run into a fresh output and of its unchanged rerun, written to `out`."""
    output = fresh(work / "out-profile")
    first = profile_run(source, output, env, out)
    rerun = profile_run(source, output, env, out)
    fresh(output)
    text = f"first run (fresh output)\n{first}\n\nunchanged rerun\n{rerun}"
    out.write_text(text)
    return text


# ---------------------------------------------------------------- main


def run_scenarios(
    args: argparse.Namespace, work: Path, corpus: Path, n_docs: int, report: dict
) -> list[dict]:
    """Run every scenario in order; return their rows (server facts and profile go to `report`)."""
    rows = []
    log(f"naive script on {n_docs} documents")
    naive_env = base_env(work / "prefect-naive", None)
    naive_env["NLTK_DATA"] = str(work / "nltk_data")
    naive = run_measured(
        [sys.executable, str(NAIVE_SCRIPT), str(corpus), str(work / "naive.parquet")], naive_env
    )
    rows.append(naive_result(naive, n_docs))

    log("proseflow, embedded API")
    env = base_env(fresh(work / "prefect-embedded"), None)
    out = fresh(work / "out-embedded")
    rows.append(proseflow_result(EMBEDDED, run_measured(proseflow_cmd(corpus, out), env), out, env))

    home = fresh(work / "prefect-server")
    home.mkdir(parents=True)
    log("starting a Prefect server")
    with prefect_server(home) as server:
        report["server_startup_s"] = round(server.startup_s, 2)
        log(f"server up on {server.url} in {server.startup_s:.1f} s")
        env = base_env(home, server.url)
        out = fresh(work / "out-server")
        for name in (SERVER_FIRST, SERVER_RERUN):
            log(f"proseflow, {DESCRIPTIONS[name]}")
            rows.append(
                proseflow_result(name, run_measured(proseflow_cmd(corpus, out), env), out, env)
            )
        out = fresh(work / "out-workers2")
        log("proseflow --workers 2")
        cmd = proseflow_cmd(corpus, out, "--workers", "2")
        rows.append(proseflow_result(SERVER_WORKERS, run_measured(cmd, env), out, env))
        out = fresh(work / "out-seeds")
        log("proseflow seeds/")
        rows.append(
            proseflow_result(SERVER_SEEDS, run_measured(proseflow_cmd(SEEDS, out), env), out, env)
        )
        if not args.skip_memory:
            big = work / f"corpus-x{args.memory_scale}"
            manifest = build_corpus(corpus_source(args), big, args.memory_scale)
            report["memory_n_documents"] = manifest["n_documents"]
            log(f"proseflow at x{args.memory_scale} ({manifest['n_documents']} documents)")
            out = fresh(work / "out-memory")
            rows.append(
                proseflow_result(
                    SERVER_MEMORY, run_measured(proseflow_cmd(big, out), env), out, env
                )
            )
            fresh(out)  # hundreds of MB nobody reads
        rows = with_ratios(rows)
        report["micro"] = None if args.skip_micro else run_micro(args)
        report["verdicts"] = verdicts(rows, report["micro"])
        missed = [
            v for v in report["verdicts"] if v["met"] is False and v["target"] not in MICRO_TARGETS
        ]
        if missed and not args.skip_profile:
            log("a target was missed: profiling a run against the server and its rerun")
            prof = args.out / f"profile-{report['timestamp'].replace(':', '').replace('-', '')}.txt"
            args.out.mkdir(parents=True, exist_ok=True)
            report["profile"] = profile_first_and_rerun(corpus, work, env, prof)
        report["server_peak_mib"] = round(server.sampler.peak / MIB, 1)
    return rows


def run_micro(args: argparse.Namespace) -> dict:
    """bench/micro.py on the source corpus."""
    sys.path.insert(0, str(BENCH))
    import micro

    log(f"micro-benchmarks on {args.micro_docs} bodies")
    return micro.run(corpus_source(args), args.micro_docs)


def corpus_source(args: argparse.Namespace) -> Path:
    """The --corpus folder, relative paths taken from the repository root."""
    return args.corpus if args.corpus.is_absolute() else (REPO / args.corpus).resolve()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="source corpus folder")
    parser.add_argument(
        "--scale", type=int, default=4, help="copies of the corpus for the main runs"
    )
    parser.add_argument(
        "--memory-scale", type=int, default=40, help="copies for the peak-memory run"
    )
    parser.add_argument("--skip-memory", action="store_true", help="skip the --memory-scale run")
    parser.add_argument("--skip-micro", action="store_true", help="skip bench/micro.py")
    parser.add_argument("--skip-profile", action="store_true", help="never profile, even on a miss")
    parser.add_argument(
        "--micro-docs", type=int, default=500, help="BBC bodies the micro-benchmarks time"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where reports go")
    parser.add_argument(
        "--work", type=Path, default=BENCH / "work", help="scratch folder (git-ignored)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--profile-child"]:
        sys.path.insert(0, str(REPO))
        return profile_child(Path(argv[1]), argv[3:])
    args = parse_args(argv)
    source = corpus_source(args)
    if not corpus_files(source):
        print(
            f"bench/run.py: no *.txt/*.md documents under {source}; pass --corpus DIR",
            file=sys.stderr,
        )
        return 2
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-x{args.scale}"
    manifest = build_corpus(source, corpus, args.scale)
    report = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "versions": versions(),
        "corpus": str(args.corpus),
        "scale": args.scale,
        "memory_scale": None if args.skip_memory else args.memory_scale,
        "n_documents": manifest["n_documents"],
    }
    report["scenarios"] = run_scenarios(args, work, corpus, manifest["n_documents"], report)
    paths = write_report(report, args.out)
    print(render_markdown(report))
    log(
        "wrote "
        + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in paths)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
