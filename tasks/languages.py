"""Language detection with py3langid's model (shipped in the pinned package), as ISO 639-1 codes.

The model is restricted to the languages below: every language textstat has constants for, Arabic,
and the other widely written languages a news corpus may contain. The full model (140 labels) now
and then labels short English or Spanish passages as Latin, Esperanto, Maltese or Galician, and
those rows would lose their scores. Only the first 500 characters (~85 words) are read: enough
for a stable decision on article text, and detection costs ~0.2 ms per document whatever its length.
"""

from __future__ import annotations

import threading

DETECTED_LANGUAGES = (
    # textstat's languages (constants and Pyphen dictionaries) and Arabic (Osman)
    "en", "de", "es", "fr", "it", "nl", "pl", "ru", "hu", "ar",
    # other widely written languages, detected so they are not mistaken for one of the above
    "pt", "sv", "da", "no", "fi", "cs", "sk", "sl", "hr", "ro", "bg", "uk", "el", "tr", "ca", "et",
    "lv", "lt", "id", "vi", "zh", "ja", "ko", "he", "fa", "hi",
)  # fmt: skip
SAMPLE_CHARS = 500

_identifier = None
_lock = threading.Lock()


def _model():
    """The restricted py3langid identifier, loaded once per process (~0.5 s)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
                model.set_languages(list(DETECTED_LANGUAGES))
                _identifier = model
    return _identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's most likely language; None when the text has no letters."""
    if not any(map(str.isalpha, text)):
        return None
    code, _score = _model().classify(text[:SAMPLE_CHARS])
    return code
