"""The pipeline's configuration: one frozen, typed object passed as the flow's parameter."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from proseflow.tasks.errors import UsageError

READABILITY_MODES = ("textstat", "published")
RUNNERS = ("local", "process", "dask")
SWITCH = ("on", "off")
# Near-duplicates: measured on labelled BBC copies (bench/near_duplicate_cases.py, README).
SHINGLE_SIZE = 5
NEAR_DUPLICATE_THRESHOLD = 0.45


def setting(
    default: Any = dataclasses.MISSING,
    *,
    fingerprint: bool,
    help: str,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    option: str | None = None,
    from_file: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A configuration field with what its command-line option needs, declared once.

    `fingerprint`: whether the field can change an output value (then it is part of the pipeline
    fingerprint) or only how a run executes. The option is `--<field-name>` unless `option` names
    it; `from_file` options take a file of one value a line.
    """
    metadata = {
        "fingerprint": fingerprint,
        "help": help,
        "metavar": metavar,
        "choices": choices,
        "option": option,
        "from_file": from_file,
    }
    return field(default=default, default_factory=default_factory, metadata=metadata)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs besides its sources and output."""

    # Laid out by hand, every setting alike: the field, its default, whether it is part of the
    # fingerprint and what its option takes; below it, indented, the option's help.
    # fmt: off
    language: str | None = setting(None, fingerprint=True, metavar="CODE",
        help="force a language for every document: an ISO 639-1 code (en, de) or a locale whose "
        "hyphenation patterns to use (en_GB, pt_BR, de_CH); default: detect, English scored as "
        "textstat's default en_US")
    readability: str = setting("textstat", fingerprint=True, choices=READABILITY_MODES,
        help="textstat: scores equal to textstat 0.7.13; published: published formulas")
    max_bytes: int = setting(10_000_000, fingerprint=True, metavar="N",
        help="reject larger inputs as too_large")
    text_field: str = setting("text", fingerprint=True, metavar="F",
        help="record formats: the field holding the text")
    id_field: str = setting("id", fingerprint=True, metavar="F",
        help="record formats: the field naming a record")
    title_field: str = setting("title", fingerprint=True, metavar="F",
        help="record formats: the field holding the title")
    boilerplate_patterns: tuple[str, ...] | None = setting(None, fingerprint=True, metavar="FILE",
        option="boilerplate-file", from_file=True,
        help="regular expressions, one a line, replacing the built-in boilerplate line patterns")
    repeated_line_min_docs: int = setting(5, fingerprint=True, metavar="N",
        help="a line in at least N documents of a collection (and the share below) is boilerplate")
    repeated_line_min_share: float = setting(0.5, fingerprint=True, metavar="S",
        help="... and in at least this share of them, in (0, 1]")
    top_terms: int = setting(50, fingerprint=True, metavar="N",
        help="rows per collection in terms/")
    near_duplicates: str = setting("on", fingerprint=True, choices=SWITCH,
        help="link near-duplicate documents (MinHash signatures, LSH) across every committed run")
    near_duplicate_threshold: float = setting(NEAR_DUPLICATE_THRESHOLD, fingerprint=True, metavar="J",
        help="estimated Jaccard similarity of two documents' word shingles that makes them "
        "near-duplicates, in (0, 1]")
    shingle_size: int = setting(SHINGLE_SIZE, fingerprint=True, metavar="N",
        help="words per shingle of the near-duplicate signatures")
    batch_size: int = setting(2000, fingerprint=False, metavar="N",
        help="documents per batch at most, spread evenly over the workers (record files are cut "
        "too)")
    batch_bytes: int = setting(64_000_000, fingerprint=False, metavar="B",
        help="input bytes per batch")
    workers: int = setting(fingerprint=False, default_factory=available_cpus, metavar="N",
        help="worker processes; 1 runs in one process (default: the CPUs this process may use)")
    runner: str = setting("local", fingerprint=False, choices=RUNNERS,
        help="local: this process (processes when workers > 1); process; dask")
    dask_address: str | None = setting(None, fingerprint=False, metavar="URL",
        help="with --runner dask: scheduler tcp://host:port")
    # fmt: on

    def __post_init__(self) -> None:
        if self.readability not in READABILITY_MODES:
            raise UsageError(
                f"--readability {self.readability!r} is unknown; expected one of {READABILITY_MODES}"
            )
        if self.near_duplicates not in SWITCH:
            raise UsageError(
                f"--near-duplicates {self.near_duplicates!r} is unknown; expected one of {SWITCH}"
            )
        if self.runner not in RUNNERS:
            raise UsageError(f"--runner {self.runner!r} is unknown; expected one of {RUNNERS}")
        for name in (
            "max_bytes",
            "batch_size",
            "batch_bytes",
            "workers",
            "top_terms",
            "repeated_line_min_docs",
            "shingle_size",
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.language is not None:
            from proseflow.tasks.languages import normalize_locale

            # Frozen: the canonical locale is set once, so parameters and fingerprint record it.
            object.__setattr__(self, "language", normalize_locale(self.language))
        for name in ("repeated_line_min_share", "near_duplicate_threshold"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"{name} must be in (0, 1], got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready values."""
        data = dataclasses.asdict(self)
        if data["boilerplate_patterns"] is not None:
            data["boilerplate_patterns"] = list(data["boilerplate_patterns"])
        return data

    def fingerprint_dict(self) -> dict[str, Any]:
        """Only the fields that can change an output value."""
        data = self.to_dict()
        return {f.name: data[f.name] for f in dataclasses.fields(self) if f.metadata["fingerprint"]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        """Inverse of to_dict; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UsageError(
                f"unknown configuration keys {unknown}; expected some of {sorted(names)}"
            )
        values = dict(data)
        if values.get("boilerplate_patterns") is not None:
            values["boilerplate_patterns"] = tuple(values["boilerplate_patterns"])
        return cls(**values)

    def replace(self, **changes: Any) -> PipelineConfig:
        return dataclasses.replace(self, **changes)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
