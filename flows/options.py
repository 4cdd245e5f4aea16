"""Command-line options shared by the commands that run the pipeline (run, reprocess, serve).

The pipeline settings are generated from PipelineConfig's fields: a setting is declared once, in
tasks/config.py, with its default, type, help and choices, and appears here as an option.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import SourceError, UsageError

GROUPS = {
    True: "what is computed (part of the pipeline fingerprint)",
    False: "how it runs (never changes a value)",
}


def command(sub, name: str, handler, help: str, description: str) -> argparse.ArgumentParser:
    """The parser of subcommand NAME, which runs HANDLER(args)."""
    parser = sub.add_parser(name, help=help, description=description)
    parser.set_defaults(handler=handler)
    return parser


def add_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="file, folder, glob or fsspec URL"
    )


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", default="outputs", metavar="DIR", help="output folder (default: outputs)"
    )


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """One option per PipelineConfig field, in two groups: values, and how a run executes."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    hints = typing.get_type_hints(PipelineConfig)
    for setting in dataclasses.fields(PipelineConfig):
        meta = setting.metadata
        groups[meta["fingerprint"]].add_argument(
            f"--{meta['option'] or setting.name.replace('_', '-')}",
            dest=setting.name,
            type=str if meta["from_file"] else _parser_for(hints[setting.name]),
            choices=meta["choices"],
            default=None,  # unset options leave PipelineConfig's defaults in place
            metavar=None if meta["choices"] else meta["metavar"],
            help=f"{meta['help']}{_default_note(setting)}",
        )


def _parser_for(hint: Any):
    """The argparse type of a field's annotation: int fields take positive integers."""
    kinds = {t for t in typing.get_args(hint) if t is not type(None)} or {hint}
    (kind,) = kinds
    return {int: positive, float: float, str: str}[kind]


def _default_note(setting: dataclasses.Field) -> str:
    """' (default: X)' for a field with a plain default worth showing."""
    if setting.default is dataclasses.MISSING or setting.default is None:
        return ""
    value = setting.default
    shown = f"{value:,}" if isinstance(value, int) and value >= 10_000 else value
    return f" (default: {shown})"


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The PipelineConfig the command-line options describe; unset options keep the defaults."""
    given = {}
    for setting in dataclasses.fields(PipelineConfig):
        value = getattr(args, setting.name, None)
        if value is not None:
            given[setting.name] = read_patterns(value) if setting.metadata["from_file"] else value
    return PipelineConfig(**given)


def read_patterns(path: str) -> tuple[str, ...]:
    """Boilerplate patterns from a file: one regular expression a line; blank lines and # comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(
            f"--boilerplate-file {path}: {reason}; expected a readable UTF-8 text file"
        ) from None
    patterns = tuple(
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(
                f"--boilerplate-file {path}: {pattern!r} is not a regular expression ({exc})"
            ) from None
    return patterns


def check_sources(sources: Sequence[str]) -> None:
    """Fail fast, before any flow starts, on a local SOURCE that does not exist or holds no input."""
    # Imported when a run is about to start: --help and usage errors stay instant.
    from proseflow.tasks.ingest.sources import INPUT_NAMES, holds_input

    for source in sources:
        if "://" in source:
            continue
        if glob.has_magic(source):
            matches = glob.glob(source, recursive=True)
            if not matches:
                raise SourceError(
                    f"SOURCE {source!r} matches no file; check the pattern and quote it"
                )
            if not any(holds_input(match) for match in matches):
                raise SourceError(f"SOURCE {source!r} matches no input; expected {INPUT_NAMES}")
        elif not os.path.lexists(source):
            raise SourceError(f"SOURCE {source!r} does not exist; pass a file, folder, glob or URL")
        elif os.path.isdir(source) and not holds_input(source):
            raise SourceError(f"SOURCE {source!r} holds no input; expected {INPUT_NAMES}")
