"""Operating commands: `proseflow server` and `proseflow serve`."""

from __future__ import annotations

import argparse


def add_commands(sub, add_output, add_pipeline_options) -> None:
    """Register the operating subcommands on the CLI's subparsers."""
    parser = sub.add_parser(
        "server",
        help="start a local Prefect server and UI",
        description="Start a local Prefect server with its UI on 127.0.0.1:PORT.",
    )
    parser.add_argument("--port", type=int, default=4200, help="port (default: 4200)")
    parser.set_defaults(handler=cmd_server)


def cmd_server(args: argparse.Namespace) -> int:
    import subprocess
    import sys

    print(f"proseflow: starting a Prefect server on http://127.0.0.1:{args.port}")
    print(f"proseflow: point runs at it with PREFECT_API_URL=http://127.0.0.1:{args.port}/api")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(args.port)]
    return subprocess.call(cmd)
