"""Stage cost per document on one core: `tasks.batch.process` (clean -> readability -> statistics).

    python bench/stages.py [--corpus DIR] [--docs 500] [--repeats 3]

Each repeat is a fresh process pinned to one CPU. It picks 2 x DOCS files spread evenly over the
corpus and splits them into two disjoint halves, A and B. It reads and decodes both (timed:
ingest), processes A once untimed (resources load, word caches fill as a worker's first batch
fills them), then times `tasks.batch.process` on B: a worker's second batch, on documents it has
not seen. Prints one JSON object; the best repeat (lowest clean + readability + statistics) is
reported with every repeat's numbers beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "bbc"
DEFAULT_DOCS = 500
STAGES = ("clean", "readability", "statistics")


def pin_to_one_cpu() -> int:
    """Restrict this process to the first CPU it may use; return that CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def halves(refs: Sequence, n_docs: int) -> tuple[list, list]:
    """Two disjoint lists of at most `n_docs` refs each, interleaved evenly over `refs`."""
    n_docs = max(1, min(n_docs, len(refs) // 2))
    picks = [refs[i * len(refs) // (2 * n_docs)] for i in range(2 * n_docs)]
    return picks[0::2], picks[1::2]


def decoded_batch(refs: Sequence, config):
    """Read and decode `refs` as a read task does: (work rows to process, boilerplate lines)."""
    import pyarrow as pa

    from proseflow.tasks import batch, triage
    from proseflow.tasks.ingest import stage as ingest

    raw, _ = ingest.read_inputs(refs, config)
    decoded = batch.decode(raw, config)
    rows = batch.profiled_rows(decoded.rows)  # decoded and distinct: what a first run processes
    work = decoded.work

    def line_keys(_part: int, take: list[int]) -> pa.Table:
        return work.select(["collection", "line_keys"]).take(pa.array(take, pa.int64()))

    lines = triage.boilerplate([(decoded.rows, decoded.profile)], [rows], line_keys, config)
    return work.take(pa.array(rows, pa.int64())), lines


def measure(corpus: Path, n_docs: int) -> dict:
    """One repeat, in this process: ms/doc of ingest and of each processing stage on half B."""
    from proseflow.tasks import batch
    from proseflow.tasks.config import PipelineConfig
    from proseflow.tasks.ingest import stage as ingest

    cpu = pin_to_one_cpu()
    config = PipelineConfig(workers=1)
    warm, timed = halves(ingest.discover([str(corpus)], config).inputs, n_docs)
    started = time.process_time()
    warm_work, warm_lines = decoded_batch(warm, config)
    work, lines = decoded_batch(timed, config)
    ingest_ms = (time.process_time() - started) * 1000 / (len(warm) + len(timed))
    batch.process(warm_work, warm_lines, config)
    # Stage clocks read this process's CPU time: on a shared machine wall time also counts the
    # time other processes held the core.
    batch.time = SimpleNamespace(perf_counter=time.process_time)
    started, started_wall = time.process_time(), time.perf_counter()
    result = batch.process(work, lines, config)
    total, wall = time.process_time() - started, time.perf_counter() - started_wall
    n = work.num_rows
    return {
        "cpu": cpu,
        "docs": n,
        "documents_out": result.documents.num_rows,
        "ingest_ms_per_doc": round(ingest_ms, 4),
        "stage_ms_per_doc": {s: round(result.seconds[s] * 1000 / n, 4) for s in STAGES},
        "process_ms_per_doc": round(total * 1000 / n, 4),
        "process_wall_ms_per_doc": round(wall * 1000 / n, 4),
    }


def run(corpus: Path = DEFAULT_CORPUS, n_docs: int = DEFAULT_DOCS, repeats: int = 3) -> dict:
    """`repeats` fresh pinned processes; the best one, with all of them listed."""
    runs, errors = [], []
    for _ in range(max(1, repeats)):
        cmd = [sys.executable, __file__, "--one", "--corpus", str(corpus), "--docs", str(n_docs)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        else:
            errors.append(done.stderr.strip()[-1000:])
    if not runs:
        return {"error": errors[-1] if errors else "no repeat ran"}
    best = min(runs, key=lambda r: sum(r["stage_ms_per_doc"].values()))
    return {
        **best,
        "process_stages_ms_per_doc": round(sum(best["stage_ms_per_doc"].values()), 4),
        "repeats": runs,
        "errors": errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="documents timed")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes; the best counts")
    parser.add_argument("--one", action="store_true", help="one repeat in this process")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.corpus.resolve(), args.docs)))
    else:
        print(json.dumps(run(args.corpus.resolve(), args.docs, args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
