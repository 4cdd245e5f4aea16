"""Pipeline options generated from PipelineConfig: every setting once, defaults kept, values parsed."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from proseflow.flows import options
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import SourceError, UsageError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    options.add_pipeline_options(parser)
    return parser.parse_args(argv)


def option_names(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_setting_has_one_option_in_the_group_of_its_fingerprint_role():
    parser = argparse.ArgumentParser()
    options.add_pipeline_options(parser)
    groups = {g.title: {a.dest for a in g._group_actions} for g in parser._action_groups}
    for setting in dataclasses.fields(PipelineConfig):
        title = options.GROUPS[setting.metadata["fingerprint"]]
        assert setting.name in groups[title], setting.name
    assert "--boilerplate-file" in option_names(parser)
    assert "--repeated-line-min-share" in option_names(parser)


def test_no_options_give_the_default_configuration():
    assert options.config_from_args(parse()) == PipelineConfig()


def test_options_are_parsed_to_the_field_types():
    config = options.config_from_args(
        parse(
            "--max-bytes",
            "1000",
            "--repeated-line-min-share",
            "0.25",
            "--workers",
            "3",
            "--runner",
            "process",
            "--language",
            "en_GB",
            "--top-terms",
            "7",
        )
    )
    assert config.max_bytes == 1000 and config.repeated_line_min_share == 0.25
    assert config.workers == 3 and config.runner == "process" and config.language == "en_GB"
    assert config.top_terms == 7


@pytest.mark.parametrize("argv", [["--batch-size", "0"], ["--workers", "x"], ["--runner", "ray"]])
def test_bad_values_are_usage_errors_of_argparse(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_configuration_checks_reach_the_options():
    with pytest.raises(UsageError, match="repeated_line_min_share"):
        options.config_from_args(parse("--repeated-line-min-share", "1.5"))


def test_the_help_shows_each_default_once():
    parser = argparse.ArgumentParser()
    options.add_pipeline_options(parser)
    text = " ".join(parser.format_help().split())  # as wrapped at any terminal width
    assert "(default: 2000)" in text and "(default: 10,000,000)" in text
    assert text.count("(default: textstat)") == 1


def test_boilerplate_file_is_read_into_patterns(tmp_path):
    path = tmp_path / "patterns.txt"
    path.write_text("# comment\n\n^Share this$\n  ^Advertisement$  \n", encoding="utf-8")
    config = options.config_from_args(parse("--boilerplate-file", str(path)))
    assert config.boilerplate_patterns == ("^Share this$", "^Advertisement$")


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"(unclosed\n", "is not a regular expression"), (b"\xff\xfe\n", "readable UTF-8")],
)
def test_a_bad_boilerplate_file_is_one_usage_error(tmp_path, content, message):
    path = tmp_path / "patterns.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        options.config_from_args(parse("--boilerplate-file", str(path)))
    with pytest.raises(UsageError, match="No such file"):
        options.config_from_args(parse("--boilerplate-file", str(tmp_path / "missing")))


def test_check_sources_accepts_urls_and_refuses_missing_paths_and_empty_globs(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    options.check_sources(["s3://bucket/key", str(tmp_path), str(tmp_path / "*.txt")])
    with pytest.raises(SourceError, match="does not exist"):
        options.check_sources([str(tmp_path / "missing")])
    with pytest.raises(SourceError, match="matches no file"):
        options.check_sources([str(tmp_path / "*.md")])


def test_a_folder_or_glob_without_inputs_is_refused_before_any_run(tmp_path):
    (tmp_path / "only.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden.txt").write_text("hidden files are not inputs")
    with pytest.raises(SourceError, match=r"holds no input; expected files named .*\*\.txt"):
        options.check_sources([str(tmp_path)])
    with pytest.raises(SourceError, match="matches no input"):
        options.check_sources([str(tmp_path / "*.pdf")])


def test_one_input_deep_down_or_a_reject_is_enough(tmp_path):
    deep = tmp_path.joinpath(*[f"d{i}" for i in range(50)])
    deep.mkdir(parents=True)
    (deep / "a.txt").write_text("x")
    options.check_sources([str(tmp_path)])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "gone.txt").symlink_to(tmp_path / "missing.txt")  # becomes an unreadable reject
    options.check_sources([str(broken)])
