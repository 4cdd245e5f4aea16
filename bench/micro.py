"""Micro-benchmarks on BBC bodies: readability engine vs textstat, segmenter vs pysbd.

    python bench/micro.py [--corpus DIR] [--docs N] [--json]

Readability: `tasks.readability.score_text(text, "en")` (the engine) and `readability_batch` with
language detection (the whole stage) against textstat's functions called one by one for the naive
script's METRICS; each document visited once, every word cache (ours and textstat's) empty first.
Segmentation: `tasks.segment.split_sentences` against `pysbd.Segmenter(language="en", clean=False)`,
plus exact matches on pysbd's English golden rules.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from golden_rules import GOLDEN_RULES  # bench/golden_rules.py: run as a script, bench/ is first

REPO = Path(__file__).resolve().parent.parent

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "bbc"
DEFAULT_DOCS = 400
TARGET_SPEEDUP = 10.0
WARMUP_TEXT = "The committee met on Tuesday. It agreed, after a long debate, to publish the report."

# The naive script's METRICS, in its order (../shared/bench/naive_textstat.py).
TEXTSTAT_METRICS = (
    "flesch_reading_ease", "flesch_kincaid_grade", "gunning_fog", "smog_index",
    "coleman_liau_index", "automated_readability_index",
    "dale_chall_readability_score", "linsear_write_formula", "spache_readability",
    "mcalpine_eflaw", "lix", "rix", "text_standard", "reading_time",
    "difficult_words", "lexicon_count", "sentence_count", "syllable_count",
    "char_count", "letter_count", "polysyllabcount", "monosyllabcount",
)  # fmt: skip


def body_of(raw: bytes) -> str:
    """The article body: the file decoded (UTF-8, else Latin-1) without its first line (title)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.split("\n", 1)[1].strip() if "\n" in text else ""


def load_bodies(corpus: Path, n_docs: int) -> list[str]:
    """`n_docs` non-empty bodies spread evenly over the corpus's sorted *.txt files."""
    paths = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    step = max(1, len(paths) // max(1, n_docs))
    bodies = [body_of(p.read_bytes()) for p in paths[::step]]
    return [b for b in bodies if b][:n_docs]


def clear_textstat_caches() -> int:
    """Empty every lru_cache inside textstat; return how many were cleared."""
    import textstat.backend as backend

    cleared = 0
    for info in pkgutil.walk_packages(backend.__path__, backend.__name__ + "."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
                cleared += 1
    return cleared


def textstat_row(text: str) -> dict[str, float]:
    """Every naive METRIC for `text`, one textstat call each, as the naive loop makes them."""
    import textstat

    row = {}
    for name in TEXTSTAT_METRICS:
        fn = getattr(textstat, name)
        row[name] = fn(text, float_output=True) if name == "text_standard" else fn(text)
    return row


def ms_per_doc(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    """Milliseconds per text of `fn` over `texts`, each text processed once."""
    started = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - started) * 1000 / max(1, len(texts))


def fresh_word_caches() -> None:
    """Forget every word proseflow's readability engine has seen (its resources stay loaded)."""
    from proseflow.tasks import readability

    readability._languages.clear()


def readability_bench(bodies: Sequence[str]) -> dict:
    """ms/doc of the engine and of the whole stage against textstat one call per metric.

    The engine is `score_text(text, "en")`: textstat's 22 METRICS' values, and more, for one text.
    The stage is `readability_batch` on a table of the same texts with language detection on: what
    a pipeline batch pays, Arrow columns included. Each starts with empty word caches.
    """
    import pyarrow as pa

    from proseflow.tasks.config import PipelineConfig
    from proseflow.tasks.lexicon import ensure_cmudict
    from proseflow.tasks.readability import readability_batch, score_text

    ensure_cmudict()  # textstat reads the same offline CMUdict; its 0.8 s load is not timed
    textstat_row(WARMUP_TEXT)
    readability_batch(pa.table({"text": [WARMUP_TEXT] * 32}), PipelineConfig())
    fresh_word_caches()
    engine = ms_per_doc(lambda t: score_text(t, "en"), bodies)
    fresh_word_caches()
    table = pa.table({"text": list(bodies)})
    started = time.perf_counter()
    readability_batch(table, PipelineConfig())
    stage = (time.perf_counter() - started) * 1000 / max(1, len(bodies))
    n_caches = clear_textstat_caches()
    naive = ms_per_doc(textstat_row, bodies)
    return {
        "docs": len(bodies),
        "engine_ms_per_doc": round(engine, 3),
        "stage_ms_per_doc": round(stage, 3),
        "textstat_ms_per_doc": round(naive, 3),
        "speedup": round(naive / engine, 2) if engine else None,
        "stage_speedup": round(naive / stage, 2) if stage else None,
        "target": TARGET_SPEEDUP,
        "textstat_caches_cleared": n_caches,
    }


def exact_matches(split: Callable[[str], list[str]], rules: Sequence[tuple[str, list[str]]]) -> int:
    """How many rules `split` gets exactly right (sentences compared whitespace-stripped)."""
    return sum([s.strip() for s in split(text)] == want for text, want in rules)


def segment_bench(bodies: Sequence[str]) -> dict:
    """ms/doc of split_sentences against pysbd, their ratio and golden-rule accuracy."""
    import pysbd

    from proseflow.tasks.segment import split_sentences

    segmenter = pysbd.Segmenter(language="en", clean=False)
    split_sentences(WARMUP_TEXT)
    segmenter.segment(WARMUP_TEXT)
    ours = ms_per_doc(split_sentences, bodies)
    theirs = ms_per_doc(segmenter.segment, bodies)
    result = {
        "docs": len(bodies),
        "segmenter_ms_per_doc": round(ours, 3),
        "pysbd_ms_per_doc": round(theirs, 3),
        "speedup": round(theirs / ours, 2) if ours else None,
        "target": TARGET_SPEEDUP,
    }
    result["golden_rules"] = len(GOLDEN_RULES)
    result["segmenter_golden"] = exact_matches(split_sentences, GOLDEN_RULES)
    result["pysbd_golden"] = exact_matches(segmenter.segment, GOLDEN_RULES)
    return result


def run(corpus: Path = DEFAULT_CORPUS, n_docs: int = DEFAULT_DOCS) -> dict:
    """Both micro-benchmarks on `n_docs` bodies of `corpus`."""
    bodies = load_bodies(corpus, n_docs)
    if not bodies:
        raise SystemExit(f"bench/micro.py: no *.txt documents under {corpus}")
    return {
        "corpus": str(corpus),
        "readability": readability_bench(bodies),
        "segmentation": segment_bench(bodies),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=DEFAULT_DOCS, help="bodies to time")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.corpus, args.docs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
