"""Hostile inputs: peak memory and time of `proseflow run` on inputs built to hurt it.

    python bench/hostile.py [--scale-mb 9.5] [--records 1000000] [--out bench/results]
                            [--work bench/work]

Writes each input under WORK/hostile/inputs/ (rebuilt every run): single documents just under the
default --max-bytes, record bombs, a folder of 20,000 tiny files and 1,000 nested folders. Runs
`proseflow run INPUT --output FRESH --json --workers 2` on each without PREFECT_API_URL (Prefect's
temporary API, as bench/run.py's no-server rows) and records wall time, exit code, documents,
rejects by reason, seconds per stage and the peak summed RSS of the proseflow processes. Prints
the Markdown table and writes hostile-<UTC>.json to --out. bench/run.py runs the same section.
"""

from __future__ import annotations

import argparse
import atexit
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: processes, report, run
from processes import Measured, base_env, kill_live_children, on_signal, run_measured  # noqa: E402
from report import hostile_lines, load_average, machine_info, versions  # noqa: E402
from run import BENCH, BIN, REPO, TRIVIAL_FLOW, log, parse_summary, with_error  # noqa: E402

MB = 1_000_000
DEFAULT_MAX_BYTES = 10_000_000  # proseflow's --max-bytes default
TIMEOUT_S = 600  # per input
WORKERS = 2
TINY_FILES = 20_000
DEPTH = 1_000


@dataclass(frozen=True)
class Size:
    """How large the inputs are: MB of each single-document input, records of each record bomb."""

    mb: float
    records: int

    @property
    def n_bytes(self) -> int:
        return int(self.mb * MB)


FULL = Size(9.5, 1_000_000)
QUICK = Size(1.0, 100_000)


# ---------------------------------------------------------------- inputs


def fill(unit: bytes, n_bytes: int, tail: bytes = b"") -> bytes:
    """`unit` repeated as many whole times as fit in `n_bytes` with `tail` after it."""
    return unit * ((n_bytes - len(tail)) // len(unit)) + tail


def tiny_content(i: int) -> bytes:
    """File `i` of the tiny-files folder: empty when `i` is even, else one letter."""
    return b"" if i % 2 == 0 else bytes([ord("a") + i // 2 % 26])


def write_sentences(path: Path, size: Size) -> int:
    """Two-word sentences: segmentation yields about n_bytes / 5 sentences."""
    return path.write_bytes(fill(b"A b. ", size.n_bytes))


def write_one_word(path: Path, size: Size) -> int:
    """One word as long as the file, then `. A`: tokenisers and syllable counters meet one token."""
    return path.write_bytes(fill(b"a", size.n_bytes, b". A"))


def write_paragraphs(path: Path, size: Size) -> int:
    """One-letter paragraphs: cleaning and boilerplate checks meet millions of blocks."""
    return path.write_bytes(fill(b"a\n\n", size.n_bytes))


def write_braces(path: Path, size: Size) -> int:
    """`{}` lines in a .txt: plain text that looks like JSON Lines."""
    return path.write_bytes(fill(b"{}\n", size.n_bytes))


def write_jsonl_records(path: Path, size: Size) -> int:
    """A record bomb: `size.records` identical tiny JSON records."""
    return path.write_bytes(b'{"text": "a"}\n' * size.records)


def write_csv_rows(path: Path, size: Size) -> int:
    """A record bomb: `size.records` CSV rows of one letter under the header `text`."""
    return path.write_bytes(b"text\n" + b"a\n" * size.records)


def write_one_record(path: Path, size: Size) -> int:
    """One JSON record whose text fills the file: a whole document inside one JSON string."""
    head, tail = b'{"text": "', b'"}\n'
    return path.write_bytes(head + fill(b"A b. ", size.n_bytes - len(head) - len(tail)) + tail)


def write_tiny_files(path: Path, size: Size) -> int:
    """TINY_FILES files, every other one empty: per-file costs with next to no text."""
    path.mkdir()
    return sum((path / f"{i:05d}.txt").write_bytes(tiny_content(i)) for i in range(TINY_FILES))


def write_deep(path: Path, size: Size) -> int:
    """DEPTH nested folders, one file at the bottom: anything that recurses per folder breaks.

    The folders are made one at a time: Path.mkdir(parents=True) itself recurses per level.
    """
    folder = path
    folder.mkdir()
    for _ in range(DEPTH):
        folder = folder / "d"
        folder.mkdir()
    return (folder / "bottom.txt").write_bytes(b"A document at the bottom of the folders.\n")


@dataclass(frozen=True)
class Input:
    """One hostile input: its row name, what it is, its file or folder name and its writer."""

    name: str
    what: str
    filename: str
    write: Callable[[Path, Size], int]  # writes the input, returns its bytes


INPUTS = (
    Input("sentences", "one .txt: `A b. ` repeated", "sentences.txt", write_sentences),
    Input("one-word", "one .txt: one word without spaces, then `. A`", "one-word.txt",
          write_one_word),
    Input("paragraphs", "one .txt: `a` paragraphs (`a\\n\\n` repeated)", "paragraphs.txt",
          write_paragraphs),
    Input("braces", "one .txt: `{}` lines", "braces.txt", write_braces),
    Input("records-jsonl", 'a .jsonl of identical records `{"text": "a"}`', "records.jsonl",
          write_jsonl_records),
    Input("records-csv", "a .csv of rows `a` under the header `text`", "records.csv",
          write_csv_rows),
    Input("one-record", "a .jsonl of one record whose text is `A b. ` repeated",
          "one-record.jsonl", write_one_record),
    Input("tiny-files", f"a folder of {TINY_FILES:,} .txt files, half empty, half 1 byte",
          "tiny-files", write_tiny_files),
    Input("deep", f"{DEPTH:,} nested folders, one .txt at the bottom", "deep", write_deep),
)  # fmt: skip


def raised_limit(path: Path, n_bytes: int) -> int | None:
    """The --max-bytes a file above the default limit needs to be read, not rejected unread.

    None (the default applies) for smaller files and for folders, which here hold tiny files only.
    """
    return n_bytes if path.is_file() and n_bytes > DEFAULT_MAX_BYTES else None


def remove(path: Path) -> None:
    """Delete a file or folder tree with `rm -rf`: shutil.rmtree recurses once per folder level,
    past Python's recursion limit in the `deep` input."""
    subprocess.run(["rm", "-rf", str(path)], check=True)


# ---------------------------------------------------------------- runs


def hostile_row(item: Input, n_bytes: int, max_bytes: int | None, measured: Measured) -> dict:
    """One input's row: the command's outcome, the summary's counts, and the peak split in two.

    `api_mib` is Prefect's temporary API server at the tree's peak; `peak_mib` is the rest: the
    flow process and its workers.
    """
    summary = parse_summary(measured.stdout)
    api = sum(p["mib"] for p in measured.peak_parts or [] if p["role"] == "api")
    row = {
        "input": item.name,
        "what": item.what,
        "bytes": n_bytes,
        "max_bytes": max_bytes,
        "returncode": measured.returncode,
        "wall_s": round(measured.wall_s, 3),
        "documents": summary.get("n_documents"),
        "rejects": summary.get("n_rejects"),
        "rejects_by_reason": summary.get("rejects_by_reason"),
        "stage_seconds": summary.get("stage_seconds"),
        "peak_tree_mib": round(measured.peak_mib, 1),
        "api_mib": round(api, 1),
        "peak_mib": round(measured.peak_mib - api, 1),
        "peak_processes": measured.peak_parts,
    }
    return with_error(row, measured)


def run_input(item: Input, root: Path, env: dict[str, str], size: Size) -> dict:
    """Build one input under ROOT/inputs and run proseflow on it into a fresh output."""
    path = root / "inputs" / item.filename
    n_bytes = item.write(path, size)
    max_bytes = raised_limit(path, n_bytes)
    extra = ["--max-bytes", str(max_bytes)] if max_bytes else []
    log(f"hostile input {item.name}: {n_bytes / MB:.2f} MB {' '.join(extra)}")
    out = root / "out" / item.name
    cmd = [str(BIN / "proseflow"), "run", str(path), "--output", str(out), "--json",
           "--workers", str(WORKERS), *extra]  # fmt: skip
    measured = run_measured(cmd, env, TIMEOUT_S)
    remove(out)
    row = hostile_row(item, n_bytes, max_bytes, measured)
    log(f"  exit {row['returncode']}, {row['wall_s']:.1f} s, peak {row['peak_mib']:.0f} MiB")
    return row


def run(work: Path, size: Size) -> dict:
    """Every hostile input, built under WORK/hostile/ and run once; the report's section."""
    root = work / "hostile"
    remove(root)
    (root / "inputs").mkdir(parents=True)
    home = root / "prefect-home"
    home.mkdir()
    env = base_env(home, None)
    log("do-nothing flow on an empty PREFECT_HOME (creates Prefect's database; not a row)")
    run_measured([sys.executable, str(TRIVIAL_FLOW)], env, TIMEOUT_S)
    rows = [run_input(item, root, env, size) for item in INPUTS]
    return {"scale_mb": size.mb, "records": size.records, "workers": WORKERS,
            "timeout_s": TIMEOUT_S, "rows": rows}  # fmt: skip


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale-mb", type=float, default=FULL.mb,
                        help=f"MB of each single-document input ({FULL.mb:g})")  # fmt: skip
    parser.add_argument("--records", type=int, default=FULL.records,
                        help=f"records of each record bomb ({FULL.records})")  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where results go")
    parser.add_argument(
        "--work", type=Path, default=BENCH / "work", help="scratch folder (git-ignored)"
    )
    return parser.parse_args(argv)


def write_results(results: dict, out: Path) -> Path:
    """Write `results` to OUT/hostile-<timestamp>.json."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = results["timestamp"].replace(":", "").replace("-", "")
    path = out / f"hostile-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def header(results: dict) -> str:
    """Title and machine line of the standalone Markdown: the load tells how shared the cores were."""
    m = results["machine"]
    loads = [" / ".join(f"{x:.1f}" for x in m.get(k) or []) or "–"
             for k in ("load_average_start", "load_average_end")]  # fmt: skip
    return (
        f"# proseflow hostile inputs {results['timestamp']}\n\n"
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; load average (1, 5, 15"
        f" min) at start {loads[0]}, at end {loads[1]}.\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    atexit.register(kill_live_children)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    results = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "versions": versions(),
    }
    results["hostile"] = run(args.work.resolve(), Size(args.scale_mb, args.records))
    results["machine"]["load_average_end"] = load_average()
    path = write_results(results, args.out)
    print(header(results))
    print("\n".join(hostile_lines(results["hostile"])))
    log(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
