#!/usr/bin/env python3
"""The naive baseline's loop with textstat-rs (a Rust port of textstat) in place of textstat.

A copy of ../shared/bench/naive_textstat.py that imports `textstat_rs` instead of `textstat`.
textstat-rs is not exact (its syllable counts differ from textstat's) and lacks some functions
(lix, rix, monosyllabcount in 2.0.0): those columns are left out. Its `text_standard` takes no
`float_output` and returns the grade as text. It needs no CMUdict preparation: the dictionary is
inside the extension.

    python naive_textstat_rs.py CORPUS OUT.parquet

Needs: textstat-rs, pandas, pyarrow (bench/run.py installs them into a scratch venv).
"""

import sys
import time
from pathlib import Path

METRICS = [
    "flesch_reading_ease", "flesch_kincaid_grade", "gunning_fog", "smog_index",
    "coleman_liau_index", "automated_readability_index",
    "dale_chall_readability_score", "linsear_write_formula", "spache_readability",
    "mcalpine_eflaw", "lix", "rix", "text_standard", "reading_time",
    "difficult_words", "lexicon_count", "sentence_count", "syllable_count",
    "char_count", "letter_count", "polysyllabcount", "monosyllabcount",
]  # fmt: skip


def main(corpus: str, out: str) -> None:
    import pandas as pd
    import textstat_rs as textstat

    functions = [(name, getattr(textstat, name)) for name in METRICS if hasattr(textstat, name)]
    missing = [name for name in METRICS if not hasattr(textstat, name)]
    started = time.perf_counter()
    rows = []
    for path in sorted(Path(corpus).rglob("*")):
        if path.suffix not in {".txt", ".md"} or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        row = {"path": str(path), "text": text}
        for name, fn in functions:
            row[name] = fn(text)
        rows.append(row)
    pd.DataFrame(rows).to_parquet(out, index=False)
    elapsed = time.perf_counter() - started
    print(f"missing: {','.join(missing)}")
    print(f"{len(rows)} documents in {elapsed:.2f} s ({len(rows) / elapsed:.1f} docs/s)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
