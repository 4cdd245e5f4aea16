"""textstat as analysts call it: `textstat.<fn>(text)` in a fresh interpreter that never called set_lang."""

from __future__ import annotations

import json
import subprocess
import sys

PLAIN = [
    "flesch_reading_ease",
    "flesch_kincaid_grade",
    "gunning_fog",
    "smog_index",
    "coleman_liau_index",
    "automated_readability_index",
    "dale_chall_readability_score",
    "linsear_write_formula",
    "spache_readability",
    "mcalpine_eflaw",
    "lix",
    "rix",
    "reading_time",
    "fernandez_huerta",
    "szigriszt_pazos",
    "gutierrez_polini",
    "crawford",
    "gulpease_index",
    "osman",
]
COUNTS = {
    "n_chars": "char_count",
    "n_letters": "letter_count",
    "n_words": "lexicon_count",
    "n_syllables": "syllable_count",
    "n_difficult_words": "difficult_words",
}
# The default locale (en_US) is in force. Texts arrive as JSON lines, values leave as JSON lines
# (Python's JSON writes floats as repr: they come back equal to the bit).
DEFAULT_CALLS = f"""
import json, sys, textstat
PLAIN, COUNTS = {PLAIN!r}, {COUNTS!r}
for line in sys.stdin:
    text = json.loads(line)
    row = {{name: getattr(textstat, name)(text) for name in PLAIN}}
    row["text_standard"] = textstat.text_standard(text, float_output=True)
    row["wiener_sachtextformel"] = textstat.wiener_sachtextformel(text, variant=1)
    row.update({{column: getattr(textstat, fn)(text) for column, fn in COUNTS.items()}})
    print(json.dumps(row), flush=True)
"""


class DefaultTextstat:
    """A fresh interpreter calling textstat with no set_lang, one text at a time."""

    def __init__(self) -> None:
        from proseflow.tasks import lexicon

        lexicon.ensure_cmudict()  # the child finds the offline CMUdict through NLTK_DATA
        self.process = subprocess.Popen(
            [sys.executable, "-c", DEFAULT_CALLS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def row(self, text: str) -> dict:
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the textstat interpreter died"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)

    def __enter__(self) -> DefaultTextstat:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
