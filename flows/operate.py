"""Operating commands: `proseflow server` (local Prefect server and UI), `proseflow serve` (schedules)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from proseflow.flows import options
from proseflow.flows.environment import quiet_environment

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STATE_DIR = ".prefect"


def add_commands(sub) -> None:
    """Register the operating subcommands on the CLI's subparsers."""
    _add_server(sub)
    _add_serve(sub)


# ---------------------------------------------------------------- server


SERVER_HELP = "start a local Prefect server and UI"
SERVER_DESCRIPTION = (
    "Start a local Prefect server with its UI on HOST:PORT; its database lives in "
    "PREFECT_HOME (default: ./.prefect). Stop it with Ctrl-C."
)


def _add_server(sub) -> None:
    parser = options.command(
        sub, "server", cmd_server, help=SERVER_HELP, description=SERVER_DESCRIPTION
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default: {DEFAULT_HOST})"
    )


def api_url(host: str, port: int) -> str:
    """The API address clients use for a server bound to HOST:PORT."""
    reachable = DEFAULT_HOST if host in ("0.0.0.0", "::", "") else host
    return f"http://{reachable}:{port}/api"


def server_env(host: str, port: int, environ: dict[str, str], cwd: Path) -> dict[str, str]:
    """The server's environment: project-local state, analytics off, UI pointed at this API."""
    env = dict(environ)
    env.setdefault("PREFECT_HOME", str(cwd / STATE_DIR))
    quiet_environment(env)
    # The UI asks PREFECT_UI_API_URL for its API; it defaults to port 4200 whatever --port says.
    url = api_url(host, port)
    env["PREFECT_API_URL"] = url
    env["PREFECT_UI_API_URL"] = url
    return env


def server_command(host: str, port: int) -> list[str]:
    """The `prefect server start` command line for HOST:PORT."""
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def cmd_server(args: argparse.Namespace) -> int:
    env = server_env(args.host, args.port, dict(os.environ), Path.cwd())
    url = api_url(args.host, args.port)
    print(f"proseflow: starting a Prefect server on http://{args.host}:{args.port}")
    print(f"proseflow: its state lives in {env['PREFECT_HOME']}")
    print(f"proseflow: point runs at it with: export PREFECT_API_URL={url}")
    print("proseflow: stop it with Ctrl-C", flush=True)
    with _stop_signals_as_ctrl_c():
        # Its own session, so a terminal's Ctrl-C (or hangup) reaches proseflow alone and the
        # server gets exactly one stop signal, from proseflow: uvicorn takes a second SIGINT as
        # "force quit", skips the app's shutdown and leaves Prefect's services and database
        # threads to a closing event loop, which prints tracebacks.
        process = subprocess.Popen(
            server_command(args.host, args.port), env=env, start_new_session=True
        )
        try:
            return process.wait()
        except KeyboardInterrupt:
            return _stop(process)


@contextlib.contextmanager
def _stop_signals_as_ctrl_c():
    """SIGTERM and SIGHUP stop proseflow like Ctrl-C, so they stop its server as well."""
    stop_signals = (signal.SIGTERM, signal.SIGHUP)
    saved = {sig: signal.signal(sig, _raise_keyboard_interrupt) for sig in stop_signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _raise_keyboard_interrupt(signum, frame) -> None:
    """A signal handler that stops proseflow as Ctrl-C does."""
    raise KeyboardInterrupt


def _stop(process: subprocess.Popen, timeout: float = 20.0) -> int:
    """Stop the server with one SIGTERM; kill it if it lingers or on a second Ctrl-C. Exit 0."""
    # uvicorn shuts down gracefully on SIGTERM (the app's shutdown included) and then ends the
    # process with the default SIGTERM action: no KeyboardInterrupt unwinding the event loop.
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _kill_group(process)
    print("proseflow: server stopped", file=sys.stderr)
    return 0


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the server's whole process group (its session) and reap it."""
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# ---------------------------------------------------------------- serve


SERVE_HELP = "serve the pipeline on SOURCE... on a schedule (needs a Prefect server)"
SERVE_DESCRIPTION = (
    "Create a deployment of the proseflow flow on SOURCE... with a cron or interval schedule and "
    "run its scheduled runs in this process until Ctrl-C (which pauses the schedule). Needs "
    "PREFECT_API_URL pointing at a running server (`proseflow server`)."
)


def _add_serve(sub) -> None:
    parser = options.command(
        sub, "serve", cmd_serve, help=SERVE_HELP, description=SERVE_DESCRIPTION
    )
    options.add_sources(parser)
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", metavar="EXPR", help="cron schedule, e.g. '0 * * * *' (hourly)")
    when.add_argument(
        "--interval", type=_seconds, metavar="SECONDS", help="run every SECONDS seconds"
    )
    parser.add_argument(
        "--name",
        metavar="N",
        help="deployment name (default: named after the source, as its runs are: `seeds`, `news+2`)",
    )
    options.add_output(parser)
    options.add_pipeline_options(parser)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    from proseflow.flows.flow import source_label
    from proseflow.flows.runtime import require_api_server, serve_flow
    from proseflow.flows.state import absolute

    require_api_server()
    options.check_sources(args.sources)
    config = options.config_from_args(args)
    # Runs of a deployment start in another working directory's child: store absolute paths.
    sources = [absolute(source) for source in args.sources]
    output = absolute(args.output)
    name = args.name or source_label(sources)
    serve_flow(sources, output, config, name, cron=args.cron, interval=args.interval)
    return 0
