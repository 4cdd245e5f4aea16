"""The floor of any Prefect run: a flow that does nothing, started in a fresh Python process.

    python bench/trivial_flow.py

Started like `proseflow run` (no PREFECT_API_URL: Prefect's temporary API; with it: that server).
Prints one JSON line: seconds to import Prefect and seconds of the flow call.
"""

import json
import time

started = time.perf_counter()
from prefect import flow  # noqa: E402  (the import is part of what is timed)

imported = time.perf_counter()


@flow
def nothing() -> None:
    pass


nothing()
called = time.perf_counter()
timings = {"import_s": imported - started, "flow_s": called - imported}
print(json.dumps({key: round(seconds, 3) for key, seconds in timings.items()}))
