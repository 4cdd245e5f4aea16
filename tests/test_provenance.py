"""Provenance: the fingerprint hashes exactly the value options, versions and schema; pins hold."""

from __future__ import annotations

import re
import tomllib

from proseflow.tasks import provenance
from proseflow.tasks.config import PipelineConfig
from tests.conftest import REPO


def test_the_fingerprint_is_stable_and_changes_with_every_value_option():
    base = provenance.pipeline_fingerprint(PipelineConfig())
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert provenance.pipeline_fingerprint(PipelineConfig()) == base
    for change in (
        {"language": "de"},
        {"readability": "published"},
        {"max_bytes": 1000},
        {"text_field": "body"},
        {"boilerplate_patterns": ("^x$",)},
        {"repeated_line_min_docs": 2},
        {"repeated_line_min_share": 0.9},
        {"top_terms": 5},
    ):
        assert provenance.pipeline_fingerprint(PipelineConfig(**change)) != base, change


def test_how_a_run_executes_never_changes_the_fingerprint():
    base = provenance.pipeline_fingerprint(PipelineConfig())
    for change in (
        {"workers": 7},
        {"batch_size": 3},
        {"batch_bytes": 10},
        {"runner": "dask"},
        {"dask_address": "tcp://h:1"},
    ):
        assert provenance.pipeline_fingerprint(PipelineConfig(**change)) == base, change


def test_the_fingerprint_inputs_are_the_versions_schema_and_value_options():
    inputs = provenance.fingerprint_inputs(PipelineConfig())
    assert set(inputs) == {"pipeline_version", "schema_version", "config", "libraries"}
    assert set(inputs["libraries"]) == set(provenance.VALUE_LIBRARIES)
    assert "workers" not in inputs["config"] and "language" in inputs["config"]


def test_every_library_that_changes_values_is_pinned_exactly():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        pins[name.strip().lower()] = version.strip()
    for library in provenance.VALUE_LIBRARIES:
        assert pins.get(library), f"{library} is not pinned with == in pyproject.toml"
        assert provenance.value_versions()[library] == pins[library], library


def test_every_run_records_python_proseflow_and_each_library():
    versions = provenance.all_versions()
    expected = {"python", "proseflow", *provenance.VALUE_LIBRARIES, *provenance.RUNTIME_LIBRARIES}
    assert set(versions) == expected
    assert versions["proseflow"] == provenance.pipeline_version() != "absent"
