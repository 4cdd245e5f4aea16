"""How a flow run executes: the task runner its options ask for, started in this process."""

from __future__ import annotations

from tasks.config import PipelineConfig
from tasks.errors import UsageError


def task_runner(config: PipelineConfig):
    """Threads in this process by default; processes or a Dask cluster when asked for."""
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    if config.runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # pragma: no cover - prefect-dask is a dependency
            raise UsageError("--runner dask needs prefect-dask; pip install prefect-dask") from exc
        if config.dask_address:
            return DaskTaskRunner(address=config.dask_address)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": config.workers, "threads_per_worker": 1, "processes": True}
        )
    if config.runner == "process" or config.workers > 1:
        return ProcessPoolTaskRunner(max_workers=config.workers)
    return ThreadPoolTaskRunner(max_workers=1)


def run_flow(sources: list[str], output: str, config: PipelineConfig, from_raw: str | None = None) -> dict:
    """Run the pipeline flow with the configured task runner and return its summary."""
    from flows.pipeline import pipeline

    flow = pipeline.with_options(task_runner=task_runner(config))
    return flow(sources=sources, output=output, config=config, from_raw=from_raw)
