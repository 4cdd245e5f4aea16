"""PipelineConfig: validated on creation, frozen, round-trips through JSON, knows its value fields."""

from __future__ import annotations

import dataclasses
import json

import pytest

from proseflow.tasks.config import PipelineConfig, available_cpus, canonical_json
from proseflow.tasks.errors import UsageError


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"readability": "fancy"}, "--readability 'fancy' is unknown"),
        ({"runner": "ray"}, "--runner 'ray' is unknown"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"workers": -1}, "workers must be a positive integer"),
        ({"max_bytes": 0}, "max_bytes must be a positive integer"),
        ({"repeated_line_min_share": 0}, "repeated_line_min_share must be in"),
        ({"repeated_line_min_share": 1.01}, "repeated_line_min_share must be in"),
        ({"language": "xx"}, "--language 'xx'"),
    ],
)
def test_bad_values_are_usage_errors(change, message):
    with pytest.raises(UsageError, match=message):
        PipelineConfig(**change)


def test_language_is_stored_as_the_locale_it_scores_with():
    assert PipelineConfig(language="en").language == "en_US"
    assert PipelineConfig(language="en_GB").language == "en_GB"
    assert PipelineConfig().language is None


def test_the_configuration_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PipelineConfig().batch_size = 3  # type: ignore[misc]


def test_to_dict_is_json_and_from_dict_restores_the_same_configuration():
    config = PipelineConfig(language="de", boilerplate_patterns=("^a$",), workers=3)
    data = json.loads(json.dumps(config.to_dict()))
    assert PipelineConfig.from_dict(data) == config
    assert data["boilerplate_patterns"] == ["^a$"]


def test_unknown_keys_are_refused_by_name():
    with pytest.raises(UsageError, match=r"unknown configuration keys \['colour'\]"):
        PipelineConfig.from_dict({"colour": "red"})


def test_fingerprint_fields_are_the_value_options_only():
    values = PipelineConfig().fingerprint_dict()
    declared = {f.name for f in dataclasses.fields(PipelineConfig) if f.metadata["fingerprint"]}
    assert set(values) == declared
    assert not {"workers", "batch_size", "batch_bytes", "runner", "dask_address"} & set(values)


def test_workers_default_to_the_cpus_this_process_may_use():
    assert PipelineConfig().workers == available_cpus() >= 1
    assert PipelineConfig().replace(workers=1).workers == 1


def test_canonical_json_is_independent_of_key_order():
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})
    assert canonical_json({"a": "é"}) == '{"a":"é"}'
