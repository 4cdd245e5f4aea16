"""The pipeline's configuration: one frozen, typed object passed as the flow's parameter."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tasks.errors import UsageError

READABILITY_MODES = ("textstat", "published")
RUNNERS = ("local", "process", "dask")


def _value(default: Any, **kw: Any) -> Any:
    """A field that can change output values: it is part of the pipeline fingerprint."""
    return field(default=default, metadata={"fingerprint": True}, **kw)


def _operational(default: Any) -> Any:
    """A field that changes how a run executes, never what it computes."""
    return field(default=default, metadata={"fingerprint": False})


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run needs besides its sources and output."""

    # Locale forced for every document ('en' is stored as textstat's default 'en_US'); None = detect.
    language: str | None = _value(None)
    readability: str = _value("textstat")  # "textstat" (parity) or "published" (published formulas)
    max_bytes: int = _value(10_000_000)  # larger inputs are rejected as too_large
    text_field: str = _value("text")  # record formats: field holding the text
    id_field: str = _value("id")  # record formats: field naming the record in source_uri
    title_field: str = _value("title")  # record formats: field holding the title
    boilerplate_patterns: tuple[str, ...] | None = _value(None)  # None = built-in list
    repeated_line_min_docs: int = _value(5)  # a line in >= this many docs of a collection ...
    repeated_line_min_share: float = _value(0.5)  # ... and in >= this share of them is boilerplate
    top_terms: int = _value(50)  # rows per collection in terms/
    batch_size: int = _operational(500)  # documents per batch (record files are cut too)
    batch_bytes: int = _operational(64_000_000)  # input bytes per batch
    workers: int = field(default_factory=available_cpus, metadata={"fingerprint": False})
    runner: str = _operational("local")
    dask_address: str | None = _operational(None)

    def __post_init__(self) -> None:
        if self.readability not in READABILITY_MODES:
            raise UsageError(
                f"--readability {self.readability!r} is unknown; expected one of {READABILITY_MODES}"
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
        ):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.language is not None:
            from tasks.languages import normalize_locale

            # Frozen: the canonical locale is set once, so parameters and fingerprint record it.
            object.__setattr__(self, "language", normalize_locale(self.language))
        if not 0 < self.repeated_line_min_share <= 1:
            raise UsageError("repeated_line_min_share must be in (0, 1]")

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
