"""How a flow run executes: its task runner, its tags, and the deployment that schedules it."""

from __future__ import annotations

import signal
from collections.abc import Sequence

from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from tasks.config import PipelineConfig
from tasks.errors import UsageError

TAG_PREFIX = "proseflow-"


def task_runner(config: PipelineConfig):
    """Threads in this process by default; processes or a Dask cluster when asked for."""
    if config.runner == "dask":
        return dask_runner(config)
    if config.runner == "process" or config.workers > 1:
        return ProcessPoolTaskRunner(max_workers=config.workers, initializer=quiet_worker)
    return ThreadPoolTaskRunner(max_workers=1)


def dask_runner(config: PipelineConfig):
    """A DaskTaskRunner on --dask-address, or on a local cluster of --workers 1-thread processes."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # pragma: no cover - prefect-dask is a dependency
        raise UsageError("--runner dask needs prefect-dask; pip install prefect-dask") from exc
    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    # No dashboard: port 8787 may be taken, and a local run has no one to look at it.
    cluster = {
        "n_workers": config.workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
    }
    return DaskTaskRunner(cluster_kwargs=cluster)


def quiet_worker() -> None:
    """Leave Ctrl-C to the flow process, so N workers print no KeyboardInterrupt tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_tags(sources: Sequence[str], from_raw: str | None = None) -> list[str]:
    """The tags of a run: what it reads and which proseflow ran it."""
    from flows.pipeline import source_label
    from tasks.provenance import pipeline_version

    return [source_label(list(sources), from_raw), f"{TAG_PREFIX}{pipeline_version()}"]


def run_flow(
    sources: list[str], output: str, config: PipelineConfig, from_raw: str | None = None
) -> dict:
    """Run the pipeline flow with the configured task runner and tags, and return its summary."""
    from prefect import tags

    from flows.pipeline import pipeline

    flow = pipeline.with_options(task_runner=task_runner(config))
    with tags(*run_tags(sources, from_raw)):
        return flow(sources=sources, output=output, config=config, from_raw=from_raw)


def deployment_parameters(sources: Sequence[str], output: str, config: PipelineConfig) -> dict:
    """The flow parameters of a deployment, as JSON values (deployments store no Python objects)."""
    return {"sources": list(sources), "output": output, "config": config.to_dict()}


def require_api_server(url: str | None = None) -> str:
    """The API URL of a running server (environment or profile); a usage error without one."""
    if url is None:
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url or ""
    # Without it every command would start the embedded API, which cannot schedule anything.
    if not url.strip():
        raise UsageError(
            "serve needs a running Prefect server: start one with `proseflow server`, then "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url


def serve_flow(
    sources: list[str],
    output: str,
    config: PipelineConfig,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
) -> None:
    """Serve the pipeline as deployment NAME on a cron or interval schedule until interrupted."""
    from flows.pipeline import pipeline

    require_api_server()
    flow = pipeline.with_options(task_runner=task_runner(config))
    flow.serve(
        name=name,
        cron=cron,
        interval=interval,
        parameters=deployment_parameters(sources, output, config),
        tags=run_tags(sources),
        pause_on_shutdown=True,
        # Runs of one deployment share an output and its lock: one at a time, the next waits.
        limit=1,
    )
