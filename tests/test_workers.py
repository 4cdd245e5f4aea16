"""Worker processes: forked from a flow process without threads, lean imports, opaque batch lists."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

from prefect.utilities.collections import visit_collection

from proseflow.flows.prefect_tasks import Items
from proseflow.flows.workers import can_fork
from proseflow.tasks.ingest.sources import InputRef

REFS = [InputRef(f"/in/{i}.txt", "news", "txt", 10) for i in range(3)]


def visited(expr) -> list:
    seen: list = []
    visit_collection(expr, visit_fn=lambda x: seen.append(x) or x, return_data=False)
    return seen


def test_prefect_walks_a_list_of_inputs_item_by_item_but_not_items():
    assert len(visited(REFS)) > len(REFS) * 4  # the list, each input and each of its fields
    assert visited(Items(REFS)) == [Items(REFS)]  # one leaf


def test_items_pickle_as_the_list_they_hold():
    assert pickle.loads(pickle.dumps(Items(REFS))).items == REFS
    assert Items([1, 2]) != Items([2, 1]) and Items([1]) != [1]
    assert len(Items(REFS)) == 3 and repr(Items(REFS)) == "Items(3)"


def python(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return json.loads(lines[-1])


WARMED = """
import json, sys
from proseflow.flows import workers
workers.warm()
heavy = ("nltk", "pandas", "duckdb", "pyarrow.dataset", "matplotlib", "textstat")
print(json.dumps({"imported": [m for m in heavy if m in sys.modules]}))
"""


def test_a_warmed_worker_imports_no_library_its_batches_do_not_use():
    # Each costs every worker process start-up time: NLTK and textstat's package (CMUdict is read
    # from proseflow's own cache), pandas (imported by pyarrow.dataset), DuckDB and matplotlib.
    assert python(WARMED) == {"imported": []}


STARTED = """
import json, os, sys, threading, time
from proseflow.flows import workers
if sys.argv[1:] == ["thread"]:
    threading.Thread(target=threading.Event().wait, daemon=True).start()
early = workers.start(2)
pids = {early.executor.submit(os.getpid).result(timeout=120) for _ in range(4)}
processes = list(early.executor._processes.values())
workers.discard(early)
deadline = time.monotonic() + 30  # the pool's own thread may reap a worker first: poll, not join
while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps({
    "method": early.executor._mp_context.get_start_method(),
    "workers": len(processes),
    "ran_in_workers": pids <= {p.pid for p in processes} and os.getpid() not in pids,
    "ended": not any(p.is_alive() for p in processes),
}))
"""


def test_workers_are_forked_from_a_process_without_threads_and_end_when_discarded():
    started = python(STARTED)
    assert started == {
        "method": "fork" if sys.platform.startswith("linux") else "spawn",
        "workers": 2,
        "ran_in_workers": True,
        "ended": True,
    }, started


def test_workers_are_spawned_from_a_process_running_another_thread():
    code = STARTED.replace('sys.argv[1:] == ["thread"]', "True")
    assert code != STARTED
    started = python(code)
    assert started["method"] == "spawn"
    assert started["ran_in_workers"] and started["ended"]


def test_this_test_process_runs_threads_so_its_pools_spawn():
    import threading

    threading.Thread(target=threading.Event().wait, args=(0.5,), daemon=True).start()
    assert not can_fork()
