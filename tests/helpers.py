"""The `proseflow` command run as a subprocess, a generated corpus, and datasets compared across runs."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import REPO, SEEDS

PROSEFLOW = [sys.executable, "-m", "proseflow.flows.cli"]


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ)  # quiet: tests/conftest.py applied flows.environment
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [*PROSEFLOW, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def make_corpus(folder: Path, n: int) -> None:
    seed = (SEEDS / "000_b1d7bf9a9c0969a7.txt").read_text()
    for i in range(n):
        sub = folder / f"c{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:05d}.txt").write_text(f"{seed}\n\nNote number {i} closes article {i}.\n")


def comparable(output: Path, dataset: str) -> list[dict]:
    """A dataset's rows without the run fields, in a stable order."""
    table = pq.read_table(output / dataset)
    drop = [c for c in ("run_id", "processed_at", "first_seen_at") if c in table.column_names]
    table = table.drop_columns(drop)
    keys = [
        k
        for k in ("doc_id", "source_uri", "unique_only", "collection", "metric", "rank")
        if k in table.column_names
    ]
    return table.sort_by([(k, "ascending") for k in keys]).to_pylist()


SEED_WORDS = sorted(set(re.findall(r"[A-Za-z]+", (SEEDS / "000_b1d7bf9a9c0969a7.txt").read_text())))


def article(rng: random.Random, paragraphs: int = 6) -> str:
    """A distinct article made of the seed's words in a random order: the same RNG state, the same
    article."""
    return "\n\n".join(
        " ".join(
            " ".join(rng.choice(SEED_WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
            for _ in range(4)
        )
        for _ in range(paragraphs)
    )


def reworded(text: str, rng: random.Random, changes: int = 3) -> str:
    words = text.split(" ")
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(SEED_WORDS)
    return " ".join(words)
