"""Operating proseflow: server, schedules, tags, scale-out; `server`-marked tests use a real server."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proseflow.flows import operate, reporting, runtime
from proseflow.flows.environment import quiet_environment
from proseflow.tasks.config import READABILITY_MODES, RUNNERS, PipelineConfig
from proseflow.tasks.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
BBC = REPO.parent / "shared" / "corpora" / "bbc"
PROSEFLOW = [str(Path(sys.executable).with_name("proseflow"))]
VOLATILE = ("run_id", "processed_at")


# ---------------------------------------------------------------- server command


def test_server_env_keeps_state_local_and_points_the_ui_at_its_port(tmp_path):
    env = operate.server_env("127.0.0.1", 4321, {"PATH": "/bin"}, tmp_path)
    assert env["PREFECT_HOME"] == str(tmp_path / ".prefect")
    assert env["PREFECT_API_URL"] == env["PREFECT_UI_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert env["PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT"] == "false"
    assert env["PATH"] == "/bin"


def test_server_env_respects_a_prefect_home_already_set(tmp_path):
    env = operate.server_env("127.0.0.1", 4200, {"PREFECT_HOME": "/srv/prefect"}, tmp_path)
    assert env["PREFECT_HOME"] == "/srv/prefect"


def test_api_url_of_a_wildcard_bind_is_loopback():
    assert operate.api_url("0.0.0.0", 4200) == "http://127.0.0.1:4200/api"
    assert operate.server_command("127.0.0.1", 4200)[-4:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "4200",
    ]


@pytest.mark.parametrize("command", ["server", "serve"])
def test_operating_commands_have_help(command, capsys):
    from proseflow.flows.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert "PREFECT" in capsys.readouterr().out


def test_serve_needs_a_schedule():
    from proseflow.flows.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "seeds/"])
    assert exit_.value.code == 2


def _child(code: str) -> subprocess.Popen:
    """A Python child running CODE in its own session, as `proseflow server` starts Prefect."""
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )


def test_stop_sends_the_server_one_sigterm_and_no_sigint():
    child = _child(
        "import signal, sys, time\n"
        "def received(sig, frame):\n"
        "    print(signal.Signals(sig).name, flush=True)\n"
        "    if sig == signal.SIGTERM:\n"
        "        sys.exit(0)\n"
        "signal.signal(signal.SIGINT, received)\n"
        "signal.signal(signal.SIGTERM, received)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    assert child.stdout.readline() == "ready\n"
    assert operate._stop(child, timeout=30) == 0
    assert child.stdout.read() == "SIGTERM\n"
    assert child.returncode == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_stop_kills_a_server_that_ignores_sigterm_and_its_children():
    child = _child(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(kid.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    grandchild = int(child.stdout.readline())
    assert operate._stop(child, timeout=1) == 0
    assert child.returncode == -signal.SIGKILL
    assert _gone(grandchild)


def test_sigterm_and_sighup_stop_the_server_command_like_ctrl_c():
    saved = signal.getsignal(signal.SIGTERM)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with pytest.raises(KeyboardInterrupt), operate._stop_signals_as_ctrl_c():
            os.kill(os.getpid(), sig)
            time.sleep(5)  # cut short by the handler's KeyboardInterrupt
    assert signal.getsignal(signal.SIGTERM) is saved


# ---------------------------------------------------------------- schedules, tags, runners


def test_serve_refuses_without_a_server():
    with pytest.raises(UsageError, match="PREFECT_API_URL") as error:
        runtime.require_api_server("")
    assert error.value.exit_code == 2
    assert runtime.require_api_server("http://127.0.0.1:1/api") == "http://127.0.0.1:1/api"


def test_serve_command_without_a_server_prints_one_line_and_exits_2(tmp_path):
    env = _clean_env(tmp_path)
    done = subprocess.run(
        [*PROSEFLOW, "serve", str(SEEDS), "--interval", "5"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "proseflow server" in done.stderr


@pytest.mark.parametrize(
    "output", ["/srv/out", "/srv/other/out", "s3://Bucket/News Data.v2/", "/", "memory://x"]
)
def test_artifact_keys_are_valid_and_one_per_output(output):
    key = reporting.artifact_key("summary", output)
    assert re.fullmatch(r"proseflow-summary(-[a-z0-9]+)+", key) and len(key) <= 80
    assert reporting.artifact_key("summary", output + "-2") != key
    assert reporting.artifact_key("summary", "/srv/out") != reporting.artifact_key(
        "summary", "/srv/other/out"
    )


def test_deployment_description_states_sources_output_schedule_and_options():
    text = runtime.deployment_description(
        ["/data/news", "s3://b/x"],
        "/srv/out",
        PipelineConfig(language="de"),
        runtime.schedule_text(cron="0 * * * *"),
    )
    assert "`/data/news`, `s3://b/x`" in text and "`/srv/out`" in text
    assert "cron `0 * * * *`" in text and "`language=de`" in text
    plain = runtime.deployment_description(
        ["/d"], "/o", PipelineConfig(), runtime.schedule_text(interval=60)
    )
    assert "every 60 s" in plain and "options: the defaults" in plain


def test_run_tags_name_the_source_and_the_version():
    from proseflow.tasks.provenance import pipeline_version

    version = pipeline_version()
    assert runtime.run_tags(["data/seeds/"]) == ["seeds", f"proseflow-v{version.replace('.', '-')}"]
    assert "." not in runtime.version_tag("0.2.0") and runtime.version_tag("0.2.0").endswith(
        "0-2-0"
    )
    assert runtime.run_tags([], "*")[0] == "reprocess-all"


configs = st.builds(
    PipelineConfig,
    language=st.none() | st.sampled_from(["en", "de", "fr"]),
    readability=st.sampled_from(READABILITY_MODES),
    batch_size=st.integers(1, 10_000),
    workers=st.integers(1, 64),
    runner=st.sampled_from(RUNNERS),
    dask_address=st.none() | st.just("tcp://127.0.0.1:8786"),
    boilerplate_patterns=st.none()
    | st.lists(st.text("abc ^$", max_size=10), max_size=3).map(tuple),
)


# The first config with a language imports the language tables: seconds on a busy machine.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_deployment_parameters_survive_json(config):
    params = runtime.deployment_parameters(["seeds/"], "outputs", config)
    back = json.loads(json.dumps(params))
    assert back["sources"] == ["seeds/"]
    assert PipelineConfig.from_dict(back["config"]) == config


def test_task_runner_follows_workers_and_runner():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(runtime.task_runner(PipelineConfig(workers=1)), ThreadPoolTaskRunner)
    processes = runtime.task_runner(PipelineConfig(workers=2))
    assert isinstance(processes, ProcessPoolTaskRunner) and processes._max_workers == 2
    assert processes.duplicate()._initializer is runtime.quiet_worker
    local = runtime.task_runner(PipelineConfig(runner="dask", workers=3))
    assert isinstance(local, DaskTaskRunner)
    assert (
        local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["threads_per_worker"] == 1
    )
    remote = runtime.task_runner(PipelineConfig(runner="dask", dask_address="tcp://10.0.0.1:8786"))
    assert remote.address == "tcp://10.0.0.1:8786"


def test_what_workers_receive_pickles():
    import cloudpickle

    from proseflow.flows.prefect_tasks import BatchReport, BatchTarget, Part, ReadReport

    table = pa.table({"doc_id": ["a"], "text": ["Words."]})
    part = Part("b00000", "/tmp/b00000.arrow", table, table)
    read = ReadReport([part], table, 1, 0.5)
    report = BatchReport("b00000", 1, 0, Counter({"nfc": 1}), table, {"clean": 0.5})
    target = BatchTarget("run", "fp", "/tmp/staging", datetime.now(UTC))
    config = PipelineConfig(workers=2, boilerplate_patterns=("^Share this",))
    for value in (part, read, report, target, config, runtime.quiet_worker):
        assert pickle.loads(cloudpickle.dumps(value)) == value


# ---------------------------------------------------------------- against a real server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child proseflow: no inherited Prefect settings, its own PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home / "prefect-home"), PYTHONPATH=str(REPO), **extra)
    quiet_environment(env)
    return env


def _interruptible() -> None:
    """Ctrl-C acts as in a terminal even if the test process was started with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _running(pid: int) -> bool:
    """Whether PID is a live process; a zombie waiting for its parent counts as ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _gone(pid: int, timeout: float = 10) -> bool:
    """Whether PID ends within TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _running(pid)


def _children(pid: int) -> list[int]:
    """The processes whose parent is PID, from /proc (empty where there is no /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(stat.parent.name))
    return kids


def _start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`proseflow server` on a free loopback port with its own PREFECT_HOME, once healthy."""
    if shutil.which("prefect", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("prefect is not installed beside this Python")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    process = subprocess.Popen(
        [*PROSEFLOW, "server", "--port", str(port)],
        cwd=home,
        env=_clean_env(
            home,
            # Schedule every 5 s instead of every 60 s so a served deployment's first run comes soon.
            PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5",
            # Runs of a 5 s schedule start late on a busy machine, and Prefect 3.9.1 marks a run
            # Late in a deferred SQLite transaction that fails with "database is locked" (and
            # logs its traceback) when another write lands between its read and its write.
            PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_interruptible,
    )
    # Creating a fresh database takes a minute or more on a busy machine.
    deadline = time.monotonic() + 180
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            output = _kill_server(process)
            pytest.skip(f"prefect server start did not come up on port {port}: {output[-500:]}")
        time.sleep(0.5)
    return process, url


def _kill_server(process: subprocess.Popen) -> str:
    """Kill `proseflow server` and the Prefect server in its own session; its output."""
    for session in [process.pid, *_children(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session, signal.SIGKILL)
    return process.communicate(timeout=30)[0]


def _stopped_cleanly(process: subprocess.Popen, url: str, servers: list[int]) -> None:
    """A stopped `proseflow server` exits 0 without a traceback and leaves no server behind."""
    output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output[-1000:]
    assert "Traceback" not in output, output[-3000:]
    assert f"export PREFECT_API_URL={url}" in output
    assert [pid for pid in servers if not _gone(pid)] == [], "the Prefect server outlived proseflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`proseflow server` on a free loopback port with its own PREFECT_HOME; stopped with Ctrl-C."""
    process, url = _start_server(tmp_path_factory.mktemp("server"))
    servers = _children(process.pid)
    yield url
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _stopped_cleanly(process, url, servers)


@pytest.mark.server
def test_server_stopped_with_sigterm_stops_prefect_too(tmp_path):
    process, url = _start_server(tmp_path)
    servers = _children(process.pid)
    process.send_signal(signal.SIGTERM)  # to proseflow alone, as a service manager does
    _stopped_cleanly(process, url, servers)
    assert not _healthy(url)


@pytest.fixture
def client(server):
    """A Prefect client on the test server, without touching the session's other settings."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server}), get_client(sync_client=True) as client_:
        yield client_


def _proseflow(server: str, tmp_path: Path, *args: str, timeout: float = 300) -> dict:
    """Run `proseflow run ... --json` against the server; its summary."""
    # TIMEOUT only guards against a hang: 60 documents take over 90 s on a busy 2-CPU machine.
    env = _clean_env(tmp_path, PREFECT_API_URL=server)
    done = subprocess.run(
        [*PROSEFLOW, "run", *args, "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{") :])


@pytest.mark.server
def test_run_against_a_server_records_batch_tasks_tags_and_artifacts(server, client, tmp_path):
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    from proseflow.tasks.provenance import pipeline_version

    summary = _proseflow(server, tmp_path, str(SEEDS), "--output", str(tmp_path / "out"))
    run = client.read_flow_run(summary["run_id"])
    assert run.state.is_completed()
    assert {"seeds", runtime.version_tag(pipeline_version())} <= set(run.tags)
    only_this = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
    task_runs = client.read_task_runs(flow_run_filter=only_this)
    # A task run is named after its task plus Prefect's "-<n>" suffix.
    names = {t.name.rsplit("-", 1)[0] for t in task_runs}
    assert names == {
        "discover",
        "read [1/1]",
        "process [1/1]",
        "near-duplicates",
        "commit",
        "report",
    }
    assert all(t.state.is_completed() for t in task_runs)
    assert not any(t.tags for t in task_runs)  # no tag concurrency slots to ask for
    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
    )
    kinds = {(a.key, a.type) for a in artifacts}

    def key(kind: str) -> str:
        return reporting.artifact_key(kind, summary["output"])

    assert {(key("summary"), "markdown"), (key("output"), "markdown")} <= kinds
    assert (key("progress"), "progress") in kinds
    if summary["n_documents"]:
        assert (key("collections"), "table") in kinds
    assert all(a.description and summary["output"] in a.description for a in artifacts)
    _has_report_artifact(artifacts, key("report"), summary["report"])


def _has_report_artifact(artifacts: list, key: str, page: str) -> None:
    """The run's report artifact: markdown with at least one PNG chart inline, naming the page."""
    (report,) = [a for a in artifacts if a.key == key]
    assert report.type == "markdown"
    pictures = re.findall(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", report.data)
    assert pictures and all(base64.b64decode(p).startswith(b"\x89PNG") for p in pictures)
    assert page and f"`{page}`" in report.data and Path(page).is_file()


@pytest.mark.server
def test_serve_runs_on_its_schedule_and_pauses_on_stop(server, client, tmp_path):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    name = f"test-{tmp_path.name[-12:]}"
    process = subprocess.Popen(
        [
            *PROSEFLOW,
            "serve",
            str(SEEDS),
            "--interval",
            "5",
            "--name",
            name,
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        env=_clean_env(tmp_path, PREFECT_API_URL=server, PREFECT_RUNNER_POLL_FREQUENCY="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_interruptible,
    )
    deployment = None
    try:
        completed = []
        # A run takes seconds, but over a minute to come round on a busy 2-CPU machine.
        deadline = time.monotonic() + 240
        while not completed and time.monotonic() < deadline and process.poll() is None:
            time.sleep(2)
            deployment = deployment or _deployment(client, f"proseflow/{name}")
            if deployment is not None:
                only = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
                completed = [
                    r
                    for r in client.read_flow_runs(deployment_filter=only)
                    if r.state.is_completed()
                ]
        assert completed, "no scheduled run completed within 240 s"
        assert "every 5 s" in deployment.description
        assert str(tmp_path / "out") in deployment.description
        assert "seeds" in completed[0].tags
        assert completed[0].parameters["config"] == PipelineConfig().to_dict()
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output = process.communicate(timeout=30)[0]
        if deployment is not None:
            client.delete_deployment(deployment.id)
    assert process.returncode == 0, output[-2000:]


def _deployment(client, name: str):
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """60 BBC articles from three categories, enough for three batches of 20."""
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    root = tmp_path_factory.mktemp("corpus")
    for category in ("business", "sport", "tech"):
        (root / category).mkdir()
        for path in sorted((BBC / category).glob("*.txt"))[:20]:
            shutil.copy(path, root / category / path.name)
    return root


def _documents(output: Path) -> pa.Table:
    from proseflow.tasks.store.output import Output

    table = Output.open(output, create=False).read("documents")
    return table.drop_columns(list(VOLATILE)).sort_by("doc_id")


def _task_run_tags(client, run_id: str) -> list[list[str]]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    only_this = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    return [t.tags for t in client.read_task_runs(flow_run_filter=only_this)]


@pytest.mark.server
@pytest.mark.slow
def test_process_and_dask_runs_equal_the_local_run(server, client, small_corpus, tmp_path):
    common = [str(small_corpus), "--batch-size", "20"]
    local = _proseflow(server, tmp_path, *common, "--output", str(tmp_path / "local"))
    procs = _proseflow(
        server, tmp_path, *common, "--workers", "2", "--output", str(tmp_path / "procs")
    )
    dask = _proseflow(
        server,
        tmp_path,
        *common,
        "--runner",
        "dask",
        "--workers",
        "2",
        "--output",
        str(tmp_path / "dask"),
    )
    counts = {(s["n_documents"], s["n_rejects"]) for s in (local, procs, dask)}
    assert len(counts) == 1 and local["n_documents"] > 50
    expected = _documents(tmp_path / "local")
    assert _documents(tmp_path / "procs").equals(expected)
    assert _documents(tmp_path / "dask").equals(expected)
    for summary in (procs, dask):  # the run is tagged, its batches in worker processes are not
        assert "corpus" in "".join(client.read_flow_run(summary["run_id"]).tags)
        tags = _task_run_tags(client, summary["run_id"])
        assert len(tags) >= 8 and not any(tags)
