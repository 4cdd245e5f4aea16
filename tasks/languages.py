"""Language detection with py3langid's model (shipped in the pinned package), as ISO 639-1 codes.

The model is restricted to the languages below: every language textstat has constants for, Arabic,
and the other widely written languages a news corpus may contain. The full model (140 labels) now
and then labels short English or Spanish passages as Latin, Esperanto, Maltese or Galician, and
those rows would lose their scores. Only the first 500 characters (~85 words) are read: enough
for a stable decision on article text.

py3langid walks its feature automaton one byte at a time in Python (~0.2 ms per document). For a
batch, `detect_languages` walks every document's automaton at once, one numpy step per byte
position, then hands each document's feature counts, in py3langid's order, to py3langid's own
scoring: the decisions are py3langid's (tested against it) at ~0.05 ms per document.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from array import array
from importlib import metadata
from pathlib import Path

import numpy as np

DETECTED_LANGUAGES = (
    # textstat's languages (constants and Pyphen dictionaries) and Arabic (Osman)
    "en", "de", "es", "fr", "it", "nl", "pl", "ru", "hu", "ar",
    # other widely written languages, detected so they are not mistaken for one of the above
    "pt", "sv", "da", "no", "fi", "cs", "sk", "sl", "hr", "ro", "bg", "uk", "el", "tr", "ca", "et",
    "lv", "lt", "id", "vi", "zh", "ja", "ko", "he", "fa", "hi",
)  # fmt: skip
SAMPLE_CHARS = 500
MIN_BATCH = 16  # fewer documents are walked by py3langid itself
CHUNK = 1024  # documents walked together: bounds the walk's arrays to ~10 MB

MODEL_CACHE_ENV = "PROSEFLOW_LANGID_CACHE"
DEFAULT_MODEL_CACHE = Path("~/.cache/proseflow/py3langid")
MODEL_CACHE_FORMAT = 1
_MODEL_ARRAYS = ("nb_ptc", "nb_pc", "nb_classes", "tk_nextmove", "tk_row", "tk_output")

_identifier = None
_tables = None
_lock = threading.Lock()


# textstat's default locale for English, the one analysts get from `textstat.<fn>(text)` without
# `set_lang` (Pyphen alone resolves "en" to its en_GB patterns). Other languages are scored after
# `set_lang(<ISO code>)`, Pyphen's own choice of patterns for the code.
DEFAULT_LOCALES = {"en": "en_US"}
_LOCALE = re.compile(r"^([A-Za-z]{2})(?:[_-]([A-Za-z]{2,4}))?$")


def scoring_locale(code: str | None) -> str | None:
    """The locale textstat scores an ISO 639-1 language in: en_US for English, else the code."""
    return None if code is None else DEFAULT_LOCALES.get(code, code)


def language_code(locale: str | None) -> str | None:
    """The ISO 639-1 code of a locale: 'pt_BR' -> 'pt'."""
    return None if locale is None else locale.split("_")[0]


def accepted_languages() -> list[str]:
    """Every ISO 639-1 code --language accepts: detected ones, textstat's and Pyphen's."""
    import pyphen

    from proseflow.tasks.lexicon import textstat_lang_configs

    textstat_codes = set(textstat_lang_configs())
    codes = set(DETECTED_LANGUAGES) | textstat_codes | {k.split("_")[0] for k in pyphen.LANGUAGES}
    return sorted(c for c in codes if len(c) == 2)


def normalize_locale(value: str) -> str:
    """--language as the locale it scores in: 'en' -> 'en_US', 'EN-gb' -> 'en_GB', 'de' -> 'de'.

    A region must name one of Pyphen's dictionaries (its hyphenation patterns are all it changes).
    """
    from proseflow.tasks.errors import UsageError

    match = _LOCALE.match(value.strip())
    code = match.group(1).lower() if match else None
    if code not in accepted_languages():
        raise UsageError(
            f"--language {value!r} is not a language proseflow can score; expected an ISO 639-1 "
            f"code or a locale such as en_GB, one of: {' '.join(accepted_languages())}"
        )
    region = match.group(2)
    if region is None:
        return scoring_locale(code)
    import pyphen

    locale = f"{code}_{region.upper() if len(region) == 2 else region.title()}"
    if locale not in pyphen.LANGUAGES:
        known = sorted(k for k in pyphen.LANGUAGES if k.startswith(f"{code}_"))
        raise UsageError(
            f"--language {value!r}: Pyphen has no {locale} hyphenation patterns; "
            f"expected {code} or one of: {' '.join(known) or '(no regional variants)'}"
        )
    return locale


def _model():
    """The restricted py3langid identifier, loaded once per process."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                _identifier = _load_model()
    return _identifier


def model_cache() -> Path:
    """The folder of the restricted model's arrays for this py3langid version and language list."""
    root = Path(os.environ.get(MODEL_CACHE_ENV) or DEFAULT_MODEL_CACHE).expanduser()
    key = json.dumps([MODEL_CACHE_FORMAT, metadata.version("py3langid"), DETECTED_LANGUAGES])
    return root / hashlib.sha256(key.encode()).hexdigest()[:16]


def _load_model():
    """The restricted identifier: from its cached arrays (~0.05 s), else from py3langid (~0.5 s).

    py3langid ships its model LZMA-compressed and decompresses 68 MB on every load. The restricted
    model's own arrays (~50 MB) are cached uncompressed, written to a temporary folder and renamed
    into place, so a cache folder is complete or absent; an unreadable one is rebuilt.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    folder = model_cache()
    try:
        a = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in _MODEL_ARRAYS}
        return LanguageIdentifier(
            a["nb_ptc"], a["nb_pc"], a["nb_classes"].tolist(), _as_array(a["tk_nextmove"]),
            a["tk_output"].tolist(), norm_probs=False, tk_row=_as_array(a["tk_row"]),
        )  # fmt: skip
    except (OSError, ValueError, EOFError, KeyError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged: make room for a good copy
    model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    model.set_languages(list(DETECTED_LANGUAGES))
    with contextlib.suppress(OSError):  # a read-only cache still works, only slower to start
        _write_model_cache(model, folder)
    return model


def _write_model_cache(model, folder: Path) -> None:
    """Save the model's arrays into `folder` all at once (a rename), unless it exists already."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        for name in _MODEL_ARRAYS:
            value = getattr(model, name)
            if isinstance(value, array):
                value = np.frombuffer(value, dtype=value.typecode)
            np.save(staging / f"{name}.npy", np.asarray(value), allow_pickle=False)
        os.rename(staging, folder)  # fails when another process has put its copy in place
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _as_array(values: np.ndarray) -> array:
    """An unsigned numpy array as the stdlib array py3langid indexes byte by byte."""
    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(memoryview(np.ascontiguousarray(values)).cast("B"))
    return out


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's most likely language; None when the text has no letters."""
    return detect_languages([text])[0]


def detect_languages(texts: list[str | None]) -> list[str | None]:
    """detect_language for every text (None for a missing text), walked as one batch."""
    model = _model()
    out: list[str | None] = [None] * len(texts)
    rows = [i for i, t in enumerate(texts) if t is not None and any(map(str.isalpha, t))]
    if len(rows) < MIN_BATCH:
        for i in rows:
            out[i] = model.classify(texts[i][:SAMPLE_CHARS])[0]
        return out
    samples = {i: model._encode(texts[i][:SAMPLE_CHARS]) for i in rows}  # py3langid's bytes
    rows.sort(key=lambda i: len(samples[i]))  # similar lengths walk together: less padding
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        for i, scores in zip(chunk, _batch_scores([samples[i] for i in chunk]), strict=True):
            out[i] = (
                _decision(model, scores) if scores is not None else model.classify(samples[i])[0]
            )
    return out


def _batch_scores(samples: list[bytes]) -> list[np.ndarray | None]:
    """py3langid's raw class scores for every sample, None for one without features.

    py3langid counts each feature the automaton outputs (visit_counts), in order of first visit,
    and scores log1p(counts) @ table[features] + priors; the same arrays in the same order give
    the same floating-point sums.
    """
    nextmove, rowbase, output, table, priors = _automaton()
    n = len(samples)
    lengths = np.fromiter(map(len, samples), dtype=np.int64, count=n)
    width = int(lengths.max())
    valid = np.arange(width) < lengths[:, None]
    data = np.zeros((n, width), dtype=np.uint8)
    data[valid] = np.frombuffer(b"".join(samples), dtype=np.uint8)
    states = np.zeros(n, dtype=np.int64)
    features = np.empty((width, n), dtype=np.int32)
    for step in range(width):  # bytes past a sample's end move its state harmlessly: masked below
        states = nextmove[rowbase[states] + data[:, step]]
        features[step] = output[states]
    features = features.T
    doc, step = np.nonzero(valid & (features >= 0))  # document-major, then in text order
    n_features = len(output)
    keys, first, counts = np.unique(
        doc * n_features + features[doc, step], return_index=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")  # by document, then by first visit
    keys = keys[order]
    found = (keys % n_features).astype(np.intp)
    weights = np.log1p(counts[order].astype(np.float32))
    bounds = np.searchsorted(keys // n_features, np.arange(n + 1)).tolist()
    return [
        weights[a:b] @ table[found[a:b]] + priors if b > a else None
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _automaton() -> tuple[np.ndarray, ...]:
    """py3langid's automaton (transitions, row offsets, outputs) and scoring tables, built once."""
    global _tables
    if _tables is None:
        model = _model()
        _tables = (
            np.frombuffer(model.tk_nextmove, dtype=model.tk_nextmove.typecode),
            np.asarray(model._rowbase, dtype=np.int64),
            np.asarray(model.tk_output, dtype=np.int64),
            model.nb_ptc.astype(np.float32),  # float16 is widened for every product anyway
            model.nb_pc,
        )
    return _tables


def _decision(model, scores: np.ndarray) -> str:
    """py3langid's classify from raw scores: aliased labels merged by their best column."""
    from py3langid.langid import RAW_FLOOR

    for i, j in model._alias_pairs:
        scores[i] = max(scores[i], scores[j])
        scores[j] = RAW_FLOOR
    return model.nb_classes[int(scores.argmax())]
