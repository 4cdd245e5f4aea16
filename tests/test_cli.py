"""The `proseflow` command: help, one-line errors and exit codes, lock (stops: test_stops.py)."""

from __future__ import annotations

import argparse

import pytest

from proseflow.flows import cli
from proseflow.tasks.store.lock import locked
from proseflow.tasks.store.output import Output
from tests.conftest import REPO, SEEDS
from tests.helpers import run_cli


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_and_option_has_help():
    commands = subcommands()
    assert {"run", "reprocess", "runs", "catalog", "schema", "server"} <= set(commands)
    for name, parser in commands.items():
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            if action.option_strings or action.dest != "help":
                assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_main_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out and "reprocess" in out and "examples:" in out


@pytest.mark.parametrize("source", ["does/not/exist", "nothing-*.txt"])
def test_missing_source_is_one_line_and_exit_2(source, capsys):
    assert cli.main(["run", source, "--output", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("proseflow: error: SOURCE") and "\n" not in err


def test_bad_option_is_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "seeds", "--batch-size", "0"])
    assert exit_.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_unknown_language_is_one_line_exit_2_naming_accepted_codes(tmp_path):
    proc = run_cli(
        "run", "seeds", "--output", str(tmp_path / "out"), "--language", "xx", timeout=60
    )
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("proseflow: error: --language 'xx'") and "\n" not in err
    assert " en " in err and " de " in err and "en_GB" in err
    assert not (tmp_path / "out").exists()  # failed before any flow or output


def test_runs_on_a_folder_without_runs_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["runs", "--output", str(tmp_path)]) == 2
    assert "holds no proseflow runs" in capsys.readouterr().err


def test_schema_prints_the_data_dictionary(capsys):
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert "### `documents/`" in out and "| `flesch_reading_ease` | double |" in out


def test_readme_data_dictionary_matches_the_schemas():
    from proseflow.tasks.schema import data_dictionary_markdown

    readme = (REPO / "README.md").read_text()
    assert data_dictionary_markdown() in readme, (
        "README data dictionary is stale: run `proseflow schema`"
    )


@pytest.mark.slow
def test_locked_output_exits_3_naming_the_holder(tmp_path):
    output = Output.open(tmp_path / "out")
    with locked(output, "holder-run-42"):
        proc = run_cli("run", str(SEEDS), "--output", str(output.root))
    assert proc.returncode == 3
    assert "holder-run-42" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_summary_line_counts_in_singular_and_plural(capsys):
    summary = {
        "n_documents": 1,
        "n_rejects": 0,
        "n_skipped": 2,
        "n_inputs": 3,
        "n_ignored": 1,
        "output": "out",
        "run_id": "r",
    }
    cli.print_summary(summary, 1.25, as_json=False)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "proseflow: 1 document written, 0 rejected, 2 skipped of 3 inputs "
        "(1 other file ignored) in 1.2 s"
    )
    near = {"a": {"documents": 1, "in_clusters": 1, "near_duplicates": 1}}
    cli.print_summary(dict(summary, near_duplicates=near), 1.25, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[1]
        == "proseflow: 1 of the 1 new document near-duplicate another document (near_duplicates/)"
    )


def test_a_source_without_inputs_exits_2_before_any_run(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.pdf").write_bytes(b"%PDF")
    proc = run_cli("run", str(empty), "--output", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("proseflow: error: SOURCE") and "holds no input" in err
    assert "\n" not in err and "*.jsonl" in err  # the complete message, no Prefect log lines
    assert not (tmp_path / "out").exists()  # no flow ran: no runs row, no output
