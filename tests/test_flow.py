"""The flow's own logic: run names, batches of inputs, configuration, what a reprocess reads."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proseflow.flows import flow
from proseflow.flows.prefect_tasks import Part, ReadReport
from proseflow.flows.runtime import Terminated
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.errors import UsageError
from proseflow.tasks.ingest.sources import InputRef
from proseflow.tasks.rejects import reject_row, rejects_table
from proseflow.tasks.schema import DOCUMENTS
from proseflow.tasks.store.commit import Staging
from proseflow.tasks.store.files import stamp_run
from proseflow.tasks.store.output import Output
from tests.store_runs import FP, doc_ids, rows, runs_row

# ---------------------------------------------------------------- names of a run


@pytest.mark.parametrize(
    ("sources", "label"),
    [
        (["data/seeds/"], "seeds"),
        (["data/seeds//"], "seeds"),
        (["s3://bucket/news/2024/"], "2024"),
        (["s3://bucket"], "bucket"),
        (["corpus/*.txt"], "*.txt"),
        (["/srv/Données été"], "Données été"),
        (["a", "b", "c"], "a+2"),
        (["/"], "/"),
    ],
)
def test_source_label_is_the_first_source_folder_and_the_count_of_others(sources, label):
    assert flow.source_label(sources) == label


@pytest.mark.parametrize(
    ("from_raw", "label"),
    [("*", "reprocess-all"), ("0123456789abcdef", "reprocess-01234567"), ("r1", "reprocess-r1")],
)
def test_source_label_of_a_reprocess_names_the_run_it_reads(from_raw, label):
    assert flow.source_label(["ignored/"], from_raw) == label


def test_run_name_is_the_label_and_a_utc_stamp(monkeypatch):
    params = {"sources": ["in/news", "in/blogs"], "from_raw": None}
    monkeypatch.setattr(flow, "flow_run", SimpleNamespace(parameters=params))
    assert re.fullmatch(r"news\+1-\d{8}T\d{6}", flow.run_name())


def test_run_name_without_sources_is_still_a_name(monkeypatch):
    monkeypatch.setattr(flow, "flow_run", SimpleNamespace(parameters={}))
    assert re.fullmatch(r"\?-\d{8}T\d{6}", flow.run_name())


# ---------------------------------------------------------------- configuration


def test_as_config_keeps_the_object_a_run_passes():
    config = PipelineConfig(batch_size=3)
    assert flow.as_config(config) is config


@pytest.mark.parametrize("empty", [None, {}])
def test_as_config_of_nothing_is_the_default(empty):
    assert flow.as_config(empty) == PipelineConfig()


def test_as_config_reads_the_json_a_deployment_stores():
    stored = PipelineConfig(top_terms=7, boilerplate_patterns=("^Share",)).to_dict()
    config = flow.as_config(stored)
    assert config.top_terms == 7 and config.boilerplate_patterns == ("^Share",)


def test_as_config_refuses_unknown_keys():
    with pytest.raises(UsageError, match="unknown configuration keys"):
        flow.as_config({"batch_size": 2, "colour": "blue"})


# ---------------------------------------------------------------- batches


def refs(*sizes: int | None) -> list[InputRef]:
    return [InputRef(f"/in/{i:03d}.txt", "", "text", size) for i, size in enumerate(sizes)]


def uris(batches: list[list[InputRef]]) -> list[list[str]]:
    return [[ref.uri[4:7] for ref in batch] for batch in batches]


def test_no_inputs_make_no_batch():
    assert flow.input_batches([], PipelineConfig()) == []


def test_batches_hold_at_most_batch_size_inputs():
    batches = flow.input_batches(refs(1, 1, 1, 1, 1), PipelineConfig(batch_size=2, workers=2))
    assert uris(batches) == [["000", "001"], ["002", "003"], ["004"]]


def test_inputs_are_spread_evenly_in_rounds_of_one_batch_per_worker():
    # 9 inputs, at most 4 a batch: 2 rounds of 2 batches, each of at most ceil(9 / 4) = 3 inputs
    config = PipelineConfig(batch_size=4, workers=2)
    assert [len(b) for b in flow.input_batches(refs(*[1] * 9), config)] == [3, 3, 3]
    config = PipelineConfig(batch_size=2000, workers=2)
    assert [len(b) for b in flow.input_batches(refs(*[1] * 8900), config)] == [1484] * 5 + [1480]
    config = PipelineConfig(batch_size=2000, workers=1)
    assert [len(b) for b in flow.input_batches(refs(*[1] * 8900), config)] == [1780] * 5


def test_inputs_up_to_batch_size_are_one_batch_whatever_the_workers():
    config = PipelineConfig(batch_size=10, workers=4)
    assert [len(b) for b in flow.input_batches(refs(*[1] * 10), config)] == [10]


@given(st.integers(0, 5000), st.integers(1, 600), st.integers(1, 8))
def test_an_even_batch_size_keeps_the_fewest_rounds_of_batches(n, size, workers):
    config = PipelineConfig(batch_size=size, workers=workers)
    even = flow.even_batch_size(n, config)
    assert 1 <= even <= size
    batches = -(-n // even)
    assert -(-batches // workers) == -(-n // (size * workers))  # no more rounds than batch_size


def test_batches_hold_at_most_batch_bytes():
    config = PipelineConfig(batch_bytes=100)
    assert uris(flow.input_batches(refs(40, 40, 40), config)) == [["000", "001"], ["002"]]
    assert uris(flow.input_batches(refs(50, 50, 1), config)) == [["000", "001"], ["002"]]


def test_an_input_larger_than_batch_bytes_is_a_batch_of_its_own():
    batches = flow.input_batches(refs(10, 500, 10), PipelineConfig(batch_bytes=100))
    assert uris(batches) == [["000"], ["001"], ["002"]]


def test_inputs_of_unknown_size_count_no_bytes():
    batches = flow.input_batches(refs(None, None, None), PipelineConfig(batch_bytes=1))
    assert uris(batches) == [["000", "001", "002"]]


@given(
    st.lists(st.none() | st.integers(0, 300), max_size=40),
    st.integers(1, 8),
    st.integers(1, 400),
)
def test_batches_keep_every_input_once_in_order_within_both_limits(sizes, size, bytes_):
    inputs = refs(*sizes)
    batches = flow.input_batches(inputs, PipelineConfig(batch_size=size, batch_bytes=bytes_))
    assert [ref for batch in batches for ref in batch] == inputs
    for batch in batches:
        assert 1 <= len(batch) <= size
        assert len(batch) == 1 or sum(ref.size or 0 for ref in batch) <= bytes_


@pytest.mark.parametrize(
    ("items", "size", "chunks"),
    [([], 3, []), ([1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]), ([1, 2], 5, [[1, 2]])],
)
def test_chunked_cuts_in_order(items, size, chunks):
    assert flow.chunked(items, size) == chunks


def test_parts_of_keeps_the_order_of_batches_and_parts():
    table = pa.table({"doc_id": ["a"]})
    first = [Part(key, f"/w/{key}", table, table) for key in ("b0-0", "b0-1")]
    second = [Part("b1-0", "/w/b1-0", table, table)]
    reads = [ReadReport(first, table, 2, 0.0), ReadReport([], table, 0, 0.0)]
    reads.append(ReadReport(second, table, 1, 0.0))
    assert [part.key for part in flow.parts_of(reads)] == ["b0-0", "b0-1", "b1-0"]


def test_a_run_without_staged_documents_summarises_an_empty_table():
    state = SimpleNamespace(staging=SimpleNamespace(final_files=lambda dataset: []))
    empty = flow.staged_documents(state)
    assert empty.num_rows == 0 and empty.schema == DOCUMENTS


# ---------------------------------------------------------------- what a reprocess reads


def commit(output: Output, run_id: str, **tables: pa.Table) -> None:
    """Commit a run that wrote only TABLES (dataset name -> rows)."""
    staging = Staging(output, run_id, FP)
    staging.start({"run_id": run_id})
    for dataset, table in tables.items():
        staging.stage(dataset, table, "b0")
        staging.finalize(dataset, ["doc_id"])
    staging.commit(runs_row(run_id))


def raw(run_id: str, uri_of: dict[str, str]) -> pa.Table:
    """raw rows: doc_id -> source_uri."""
    table = rows("raw", list(uri_of), run_id)
    column = table.schema.get_field_index("source_uri")
    return table.set_column(column, "source_uri", pa.array(list(uri_of.values()), pa.string()))


def test_reprocess_all_reads_every_raw_row_in_source_order(tmp_path):
    output = Output.open(tmp_path / "out")
    a, b, c = doc_ids(1, 2, 3)
    commit(output, "r1", raw=raw("r1", {a: "/in/zeta.txt", b: "/in/alpha.txt"}))
    commit(output, "r2", raw=raw("r2", {c: "/in/Ünïcode.txt"}))
    assert flow.stored_doc_ids(output, flow.FROM_RAW_ALL) == [b, a, c]


def test_reprocess_of_an_output_without_raw_reads_nothing(tmp_path):
    assert flow.stored_doc_ids(Output.open(tmp_path / "out"), flow.FROM_RAW_ALL) == []


def test_reprocess_of_one_run_reads_its_documents_and_decoded_rejects(tmp_path):
    output = Output.open(tmp_path / "out")
    old, kept, empty = doc_ids(1, 2, 3)
    commit(output, "r1", documents=rows("documents", [old], "r1"), raw=rows("raw", [old], "r1"))
    rejects = rejects_table(
        [
            reject_row("/in/empty.txt", "", "empty", "no text", 0, empty),
            reject_row("/in/huge.txt", "", "too_large", "over max_bytes", 10**9),  # never read
        ]
    )
    commit(
        output,
        "r2",
        documents=rows("documents", [kept], "r2"),
        rejects=stamp_run(rejects, "r2", FP),
        raw=rows("raw", [kept, empty], "r2"),
    )
    assert flow.run_doc_ids(output, "r2") == {kept, empty}
    assert flow.stored_doc_ids(output, "r2") == [kept, empty]


def test_reprocess_of_an_unknown_run_names_it_and_the_command_that_lists_runs(tmp_path):
    output = Output.open(tmp_path / "out")
    commit(output, "r1", raw=rows("raw", doc_ids(1), "r1"))
    with pytest.raises(UsageError, match=r"run r9 is not in .*/runs; `proseflow runs`"):
        flow.stored_doc_ids(output, "r9")


# ---------------------------------------------------------------- the error a runs row records


def test_a_failure_is_recorded_as_the_exception_line():
    assert flow._one_line(OSError(28, "No space left on device")) == (
        "OSError: [Errno 28] No space left on device"
    )
    assert flow._one_line(KeyboardInterrupt()) == "interrupted (Ctrl-C)"
    assert flow._one_line(Terminated()) == "interrupted (SIGTERM)"
    noted = OSError("disk full")
    noted.add_note("while writing documents")
    assert flow._one_line(noted) == "OSError: disk full"


def test_a_recorded_failure_is_one_line_of_at_most_500_characters():
    line = flow._one_line(ValueError("x" * 600 + "\nsecond line"))
    assert line.startswith("ValueError: xxx") and len(line) == 500 and "\n" not in line
