"""Tests for tasks/ingest.py: discovery, reading and decoding, with every reject reason."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import hashlib
import html
import json
import os
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tasks import ingest, schema
from tasks.config import PipelineConfig
from tasks.errors import SourceError
from tasks.ingest import decode_batch, discover, read_inputs

CONFIG = PipelineConfig()
BBC = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "bbc"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def ingest_all(sources: list[str], config: PipelineConfig = CONFIG) -> tuple[pa.Table, pa.Table]:
    """Discover, read and decode; returns (ingested, every reject)."""
    found = discover(sources, config)
    raw, read_rejects = read_inputs(found.inputs, config)
    ingested, decode_rejects = decode_batch(raw, config)
    return ingested, pa.concat_tables([found.rejects, read_rejects, decode_rejects])


def reasons(rejects: pa.Table) -> dict[str, str]:
    """Reject reason by file name (or name#record)."""
    return {
        uri.rsplit("/", 1)[-1]: r
        for uri, r in zip(
            rejects["source_uri"].to_pylist(), rejects["reason"].to_pylist(), strict=True
        )
    }


def within(seconds: float, call: Callable[[], object]) -> object:
    """The result of call, failing the test instead of hanging when it blocks (on a FIFO)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test's thread below
            outcome.append((False, exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still running after {seconds} s: blocked on a FIFO?"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def bytes_name(folder: Path, name: bytes) -> Path:
    """A path in folder whose file name is raw bytes; skips where the file system refuses them."""
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
    try:
        path.touch()
    except OSError as exc:
        pytest.skip(f"this file system refuses non-UTF-8 names: {exc}")
    return path


@contextmanager
def nested(top: Path, name: str, depth: int, leaf: str, text: str) -> Iterator[None]:
    """depth folders inside each other with leaf at the bottom, made and removed by relative steps.

    Relative steps reach below PATH_MAX, and removing them here spares pytest's recursive cleanup.
    """
    home = os.getcwd()
    os.chdir(top)
    made = 0
    try:
        for _ in range(depth):
            os.mkdir(name)
            os.chdir(name)
            made += 1
        Path(leaf).write_text(text)
        os.chdir(home)
        yield
    finally:
        os.chdir(top)
        for _ in range(made):
            os.chdir(name)
        Path(leaf).unlink(missing_ok=True)
        for _ in range(made):
            os.chdir("..")
            os.rmdir(name)
        os.chdir(home)


def decode_one(data: bytes, fmt: str = "txt") -> tuple[dict | None, dict | None]:
    """(ingested row, reject row) of one raw document built by hand."""
    raw = pa.Table.from_pylist(
        [
            {
                "doc_id": "x",
                "content": data,
                "n_bytes": len(data),
                "format": fmt,
                "source_uri": "mem",
                "collection": "",
            }
        ],
        schema=ingest.RAW_BATCH,
    )
    ingested, rejects = decode_batch(raw, CONFIG)
    return (ingested.to_pylist() or [None])[0], (rejects.to_pylist() or [None])[0]


# ------------------------------------------------------------------ discover


def test_discover_formats_collections_hidden_and_ignored(tmp_path: Path) -> None:
    for name in (
        "a.txt",
        "sub/b.md",
        "sub/deep/c.html",
        "d.txt.gz",
        "e.jsonl",
        "f.csv",
        "g.parquet",
        "h.htm",
        "i.jsonl.gz",
    ):
        write(tmp_path / name, "x")
    for name in (".hidden/x.txt", ".h.txt", "notes.pdf", "img.png", "g.parquet.gz", "README.TXT"):
        write(tmp_path / name, "x")
    found = discover([str(tmp_path)], CONFIG)
    got = {
        Path(r.uri).relative_to(tmp_path).as_posix(): (r.collection, r.format) for r in found.inputs
    }
    assert got == {
        "a.txt": ("", "txt"),
        "sub/b.md": ("sub", "md"),
        "sub/deep/c.html": ("sub/deep", "html"),
        "d.txt.gz": ("", "txt"),
        "e.jsonl": ("", "jsonl"),
        "f.csv": ("", "csv"),
        "g.parquet": ("", "parquet"),
        "h.htm": ("", "html"),
        "i.jsonl.gz": ("", "jsonl"),
    }
    assert [r.uri for r in found.inputs] == sorted(r.uri for r in found.inputs)
    assert found.n_ignored == 4  # notes.pdf, img.png, g.parquet.gz, README.TXT
    assert found.inputs[0].size == 1


def test_discover_single_file_and_glob(tmp_path: Path) -> None:
    write(tmp_path / "cat" / "one.txt", "x")
    write(tmp_path / "dog" / "two.txt", "y")
    single = discover([str(tmp_path / "cat" / "one.txt")], CONFIG)
    assert [(r.collection, r.format) for r in single.inputs] == [("", "txt")]
    globbed = discover([str(tmp_path / "*" / "*.txt")], CONFIG)
    assert [r.collection for r in globbed.inputs] == ["cat", "dog"]


def test_discover_missing_or_empty_source_raises(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nope"):
        discover([str(tmp_path / "nope")], CONFIG)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="empty"):
        discover([str(tmp_path / "empty")], CONFIG)
    with pytest.raises(SourceError, match=r"\*\.zzz"):
        discover([str(tmp_path / "*.zzz")], CONFIG)


def test_discover_duplicate_and_overlapping_sources_yield_each_file_once(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "a.txt", "x")
    sources = [
        str(tmp_path),
        str(tmp_path),
        str(tmp_path / "sub"),
        str(tmp_path / "sub" / "a.txt"),
        str(tmp_path / "*"),
    ]
    found = discover(sources, CONFIG)
    assert len(found.inputs) == 1
    assert found.inputs[0].collection == "sub"  # the first SOURCE that reached it names it


def test_symlink_loop_terminates_and_broken_link_is_rejected(tmp_path: Path) -> None:
    write(tmp_path / "a" / "doc.txt", "hello")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path / "missing.txt", tmp_path / "a" / "broken.txt")
    found = discover([str(tmp_path)], CONFIG)
    assert [Path(r.uri).name for r in found.inputs] == ["doc.txt"]
    assert reasons(found.rejects) == {"broken.txt": ingest.REASON_UNREADABLE}
    assert "broken symlink" in found.rejects["detail"][0].as_py()


def test_fifo_socket_and_device_are_rejected_never_opened(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt", "fine")
    os.mkfifo(tmp_path / "pipe.txt")
    os.mkfifo(tmp_path / "pipe")  # not an input's name: ignored like any other file
    os.symlink("/dev/null", tmp_path / "null.txt")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock.txt"))
        ingested, rejects = within(30, lambda: ingest_all([str(tmp_path)]))
    finally:
        server.close()
    assert reasons(rejects) == {
        "pipe.txt": ingest.REASON_NOT_A_FILE,
        "null.txt": ingest.REASON_NOT_A_FILE,
        "sock.txt": ingest.REASON_NOT_A_FILE,
    }
    details = " ".join(rejects["detail"].to_pylist())
    assert "FIFO" in details and "socket" in details and "character device" in details
    assert [Path(u).name for u in ingested["source_uri"].to_pylist()] == ["ok.txt"]


def test_fifo_as_the_source_is_a_reject_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    found = within(30, lambda: discover([str(tmp_path / "pipe.txt")], CONFIG))
    assert found.inputs == []
    assert reasons(found.rejects) == {"pipe.txt": ingest.REASON_NOT_A_FILE}


def test_reading_a_fifo_listed_as_a_file_does_not_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")  # e.g. swapped in after discovery
    write(tmp_path / "ok.txt", "fine")
    refs = [ingest.InputRef(str(tmp_path / n), "", "txt", None) for n in ("ok.txt", "pipe.txt")]
    raw, rejects = within(30, lambda: read_inputs(refs, CONFIG))
    assert reasons(rejects) == {"pipe.txt": ingest.REASON_NOT_A_FILE}
    assert raw["content"].to_pylist() == [b"fine"]


def test_folder_holding_only_a_broken_symlink_is_one_reject(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.txt", tmp_path / "link.txt")
    os.symlink("self.txt", tmp_path / "self.txt")  # a link to itself
    os.symlink(tmp_path / "gone", tmp_path / "latest")  # not an input's name: ignored
    found = discover([str(tmp_path)], CONFIG)
    assert found.inputs == [] and found.n_ignored == 1
    assert reasons(found.rejects) == {
        "link.txt": ingest.REASON_UNREADABLE,
        "self.txt": ingest.REASON_UNREADABLE,
    }
    assert all("broken symlink" in d for d in found.rejects["detail"].to_pylist())


def test_thousand_nested_folders_are_walked(tmp_path: Path) -> None:
    write(tmp_path / "top.txt", "Top.")
    with nested(tmp_path, "d", 1000, "bottom.txt", "Bottom."):
        ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    bottom = ingested.filter(pa.compute.equal(ingested["decoded"], "Bottom.")).to_pylist()[0]
    assert bottom["collection"] == "/".join(["d"] * 1000)
    assert bottom["source_uri"] == str(tmp_path.joinpath(*["d"] * 1000, "bottom.txt"))


def test_path_longer_than_path_max_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    write(tmp_path / "top.txt", "Top.")
    with nested(tmp_path, "f" * 250, 20, "deep.txt", "Too deep to name."):
        ingested, rejects = ingest_all([str(tmp_path)])
    assert ingested["decoded"].to_pylist() == ["Top."]
    assert rejects["reason"].to_pylist() == [ingest.REASON_UNREADABLE]
    assert "too long" in rejects["detail"][0].as_py()
    assert len(rejects["source_uri"][0].as_py()) > os.pathconf("/", "PC_PATH_MAX")


def test_odd_file_names(tmp_path: Path) -> None:
    names = ["with space.txt", "ünïcødé 文.txt", "-leading-dash.txt", "line\nbreak.txt", "%41.txt"]
    for i, name in enumerate(names):
        write(tmp_path / name, f"document {i}")
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    assert sorted(Path(u).name for u in ingested["source_uri"].to_pylist()) == sorted(names)


def test_name_that_is_not_utf8_is_read_under_a_percent_encoded_url(tmp_path: Path) -> None:
    bad = bytes_name(tmp_path, b"bad\xff.txt")
    bad.write_bytes(b"Content that is fine.")
    write(tmp_path / "bad%FF.txt", "A real name that looks like the escaped one.")
    write(tmp_path / "good.txt", "Good.")
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    by_text = dict(
        zip(ingested["decoded"].to_pylist(), ingested["source_uri"].to_pylist(), strict=True)
    )
    url = "file://" + urllib.parse.quote(os.fsencode(tmp_path) + b"/bad\xff.txt")
    assert by_text["Content that is fine."] == url and url.endswith("/bad%FF.txt")
    assert by_text["A real name that looks like the escaped one."] == str(tmp_path / "bad%FF.txt")
    assert discover([str(tmp_path)], CONFIG).inputs[-1].uri == url  # the same on every run


def test_folder_and_record_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    folder = bytes_name(tmp_path, b"caf\xe9")
    folder.unlink()
    folder.mkdir()
    write(folder / "a.txt", "In a folder with a Latin-1 name.")
    feed = bytes_name(tmp_path, b"feed\xe9.jsonl")
    feed.write_text('{"id": "r1", "text": "A record."}\n')
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    rows = {r["decoded"]: r for r in ingested.to_pylist()}
    assert rows["In a folder with a Latin-1 name."]["collection"] == "caf\\xe9"
    assert rows["A record."]["collection"] == "feed\\xe9"
    assert rows["A record."]["source_uri"].endswith("/feed%E9.jsonl#r1")


def test_memory_url_and_file_url(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/corpus/news/a.txt", b"Memory title\n\nBody text.")
    fs.pipe("/corpus/top.md", b"# Top\n\nMore text.")
    fs.pipe("/corpus/.secret.txt", b"hidden")
    try:
        ingested, rejects = ingest_all(["memory://corpus"])
    finally:
        fs.rm("/corpus", recursive=True)
    assert rejects.num_rows == 0
    assert ingested["source_uri"].to_pylist() == [
        "memory:///corpus/news/a.txt",
        "memory:///corpus/top.md",
    ]
    assert ingested["collection"].to_pylist() == ["news", ""]
    write(tmp_path / "c" / "b.txt", "file url")
    found = discover([f"file://{tmp_path}"], CONFIG)
    assert [r.collection for r in found.inputs] == ["c"]


# ------------------------------------------------------------------ read_inputs


def test_read_rejects_empty_too_large_and_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "big.txt", b"x" * 101)
    write(tmp_path / "ok.txt", b"x" * 100)
    (tmp_path / "dir.txt").mkdir()
    write(tmp_path / "gone.txt", b"soon gone")
    config = PipelineConfig(max_bytes=100)
    refs = discover([str(tmp_path)], config).inputs  # dir.txt is walked as a folder here
    refs.append(ingest.InputRef(str(tmp_path / "dir.txt"), "", "txt", None))
    (tmp_path / "gone.txt").unlink()
    raw, rejects = read_inputs(refs, config)
    got = reasons(rejects)
    assert got == {
        "empty.txt": "empty",
        "big.txt": "too_large",
        "dir.txt": "unreadable",
        "gone.txt": "unreadable",
    }
    detail = rejects.filter(pa.compute.equal(rejects["reason"], "too_large"))["detail"][0].as_py()
    assert "101" in detail and "100" in detail
    assert raw["n_bytes"].to_pylist() == [100]
    assert raw.schema.field("content").type == pa.binary()
    assert rejects.schema == schema.REJECTS


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads whatever the permissions say")
def test_permission_denied_on_a_file_or_folder_is_unreadable(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "secret")
    closed = write(tmp_path / "closed" / "inside.txt", "secret").parent
    write(tmp_path / "ok.txt", "open")
    locked.chmod(0)
    closed.chmod(0)
    try:
        ingested, rejects = ingest_all([str(tmp_path)])
    finally:
        locked.chmod(0o644)
        closed.chmod(0o755)
    assert reasons(rejects) == {"locked.txt": "unreadable", "closed": "unreadable"}
    assert ingested["decoded"].to_pylist() == ["open"]


def test_unknown_url_protocol_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="nosuchproto://x"):
        discover(["nosuchproto://x"], CONFIG)


def test_read_stops_at_max_bytes_plus_one(tmp_path: Path) -> None:
    write(tmp_path / "huge.txt", b"y" * 5000)
    ref = ingest.InputRef(str(tmp_path / "huge.txt"), "", "txt", None)
    with pytest.raises(ingest._Reject) as info:
        ingest._read_bytes(ref, 10)
    assert info.value.reason == ingest.REASON_TOO_LARGE


def test_gzip_is_decompressed_bounded_and_checked(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt.gz", gzip.compress(b"Gzip title\n\nGzipped body."))
    write(tmp_path / "bomb.txt.gz", gzip.compress(b"\n" * 200_000))  # ~200 bytes compressed
    write(tmp_path / "bad.txt.gz", b"\x1f\x8bnot really gzip")
    config = PipelineConfig(max_bytes=1000)
    raw, rejects = read_inputs(discover([str(tmp_path)], config).inputs, config)
    assert reasons(rejects) == {"bomb.txt.gz": "too_large", "bad.txt.gz": "undecodable"}
    bomb = rejects.filter(pa.compute.equal(rejects["reason"], "too_large"))["detail"][0].as_py()
    assert "decompressed" in bomb and "1000" in bomb
    assert raw["content"].to_pylist() == [b"Gzip title\n\nGzipped body."]
    assert raw["doc_id"][0].as_py() == ingest._sha(b"Gzip title\n\nGzipped body.")


def test_truncated_jsonl_gz_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    lines = [json.dumps({"text": hashlib.sha256(b"%d" % i).hexdigest()}) for i in range(200)]
    packed = gzip.compress("\n".join(lines).encode())
    write(tmp_path / "cut.jsonl.gz", packed[: len(packed) // 2])
    write(tmp_path / "cut.txt.gz", packed[:200])  # a cut document is not a shorter document
    write(tmp_path / "ok.txt", "Fine.")
    ingested, rejects = ingest_all([str(tmp_path)])
    uri = str(tmp_path / "cut.jsonl.gz")
    kept = ingested.filter(pa.compute.starts_with(ingested["source_uri"], uri))
    assert 0 < kept.num_rows < 200
    assert (
        kept["decoded"].to_pylist() == [json.loads(line)["text"] for line in lines][: kept.num_rows]
    )
    assert reasons(rejects) == {"cut.jsonl.gz": "undecodable", "cut.txt.gz": "undecodable"}
    detail = rejects.filter(pa.compute.equal(rejects["source_uri"], uri))["detail"][0].as_py()
    assert "invalid gzip data" in detail and f"records read before it: {kept.num_rows}" in detail
    assert "Fine." in ingested["decoded"].to_pylist()


def test_hostile_jsonl_lines_spoil_only_themselves(tmp_path: Path) -> None:
    lines = [
        '{"id": "a", "text": "First."}',
        "[" * 100_000,  # deeper than the JSON parser goes
        '{"text": "x", "deep": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": "b", "text": "lone \\ud800 surrogate"}',  # valid JSON, not valid Unicode
        '{"id": "\\udcff", "text": "An id UTF-8 cannot hold."}',
        '{"id": "c", "text": "Last."}',
    ]
    write(tmp_path / "feed.jsonl", "\n".join(lines))
    ingested, rejects = ingest_all([str(tmp_path)])
    assert ingested["decoded"].to_pylist() == ["First.", "Last."]
    assert reasons(rejects) == {
        "feed.jsonl#1": "undecodable",
        "feed.jsonl#2": "undecodable",
        "feed.jsonl#b": "undecodable",
        "feed.jsonl#\\xff": "undecodable",
    }
    assert "nested too deeply" in rejects["detail"][0].as_py()
    assert "UTF-8" in rejects["detail"][2].as_py()


def test_record_bomb_reads_at_most_max_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_RECORDS", 3)
    write(tmp_path / "bomb.jsonl", "{}\n" * 10)
    write(tmp_path / "ok.jsonl", '{"text": "Fine."}\n')
    raw, rejects = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert raw["source_uri"].to_pylist() == [str(tmp_path / "ok.jsonl#0")]
    assert reasons(rejects) == {
        "bomb.jsonl#0": "empty",
        "bomb.jsonl#1": "empty",
        "bomb.jsonl#2": "empty",
        "bomb.jsonl": "too_large",
    }
    assert "more than 3 records" in rejects["detail"][3].as_py()


def test_parquet_that_unpacks_beyond_max_bytes_is_too_large(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["a" * 100_000]}), tmp_path / "bomb.parquet")
    pq.write_table(pa.table({"text": ["Fine."]}), tmp_path / "ok.parquet")
    config = PipelineConfig(max_bytes=10_000)
    assert (tmp_path / "bomb.parquet").stat().st_size < config.max_bytes
    ingested, rejects = ingest_all([str(tmp_path)], config)
    assert reasons(rejects) == {"bomb.parquet": "too_large"}
    assert "uncompressed size" in rejects["detail"][0].as_py()
    assert ingested["decoded"].to_pylist() == ["Fine."]


def test_unexpected_error_on_one_input_is_a_reject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.txt", "A.")
    write(tmp_path / "b.txt", "B.")
    real_open = ingest._open

    def flaky_open(uri: str):
        if uri.endswith("a.txt"):
            raise RuntimeError("disk on fire")
        return real_open(uri)

    monkeypatch.setattr(ingest, "_open", flaky_open)
    raw, rejects = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert reasons(rejects) == {"a.txt": ingest.REASON_ERROR}
    assert "disk on fire" in rejects["detail"][0].as_py()
    assert raw["content"].to_pylist() == [b"B."]


def test_jsonl_records(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "a1",
                "text": "First record.",
                "title": "T1",
                "author": "Ann Lee",
                "date": "2020-01-02",
            }
        ),
        "{not json",
        json.dumps({"body": "no text field"}),
        "",
        json.dumps({"text": "Third record, no id.", "published": "June 5, 2019"}),
        json.dumps([1, 2]),
    ]
    write(tmp_path / "feed.jsonl", "\n".join(lines))
    ingested, rejects = ingest_all([str(tmp_path / "feed.jsonl")])
    uri = str(tmp_path / "feed.jsonl")
    assert ingested["source_uri"].to_pylist() == [f"{uri}#a1", f"{uri}#3"]
    assert ingested["collection"].to_pylist() == ["feed", "feed"]
    first = ingested.to_pylist()[0]
    assert (first["decoded"], first["meta_title"], first["meta_author"]) == (
        "First record.",
        "T1",
        "Ann Lee",
    )
    assert first["meta_published_date"] == dt.date(2020, 1, 2)
    assert ingested["meta_published_date"][1].as_py() == dt.date(2019, 6, 5)
    got = dict(
        zip(
            rejects["source_uri"].to_pylist(),
            rejects.select(["reason", "detail"]).to_pylist(),
            strict=True,
        )
    )
    assert got[f"{uri}#1"]["reason"] == "undecodable" and "line 2" in got[f"{uri}#1"]["detail"]
    assert got[f"{uri}#2"]["reason"] == "empty" and "'text'" in got[f"{uri}#2"]["detail"]
    assert got[f"{uri}#4"]["reason"] == "undecodable"


def test_record_content_is_canonical_json(tmp_path: Path) -> None:
    write(tmp_path / "r.jsonl", '{"text": "é", "b": 1, "a": 2}\n')
    raw, _ = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    assert raw["content"][0].as_py() == '{"a": 2, "b": 1, "text": "é"}'.encode()
    assert raw["format"][0].as_py() == "jsonl"


def test_csv_and_parquet_records_with_configured_fields(tmp_path: Path) -> None:
    write(tmp_path / "sheet.csv", 'key,body,headline\nk1,CSV body one.,H1\nk2,"Quoted, body.",H2\n')
    pq.write_table(
        pa.table({"key": ["p1"], "body": ["Parquet body."], "headline": ["PH"]}),
        tmp_path / "table.parquet",
    )
    config = PipelineConfig(text_field="body", id_field="key", title_field="headline")
    ingested, rejects = ingest_all([str(tmp_path)], config)
    assert rejects.num_rows == 0
    rows = {r["source_uri"].rsplit("/", 1)[-1]: r for r in ingested.to_pylist()}
    assert rows["sheet.csv#k2"]["decoded"] == "Quoted, body."
    assert rows["sheet.csv#k1"]["meta_title"] == "H1"
    assert (rows["table.parquet#p1"]["format"], rows["table.parquet#p1"]["collection"]) == (
        "parquet",
        "table",
    )


def test_csv_long_cells_ragged_rows_and_legacy_encoding(tmp_path: Path) -> None:
    long = "word " * 40_000
    write(tmp_path / "long.csv", f"text,id\n{long},1\nextra,2,3\n".encode())
    write(
        tmp_path / "old.csv",
        "text\nCaf\u00e9 cr\u00e8me \u2014 \u201cquoted\u201d.\n".encode("cp1252"),
    )
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    assert ingested["decoded"].to_pylist() == [long, "extra", "Café crème — “quoted”."]


def test_corrupt_parquet_is_undecodable(tmp_path: Path) -> None:
    write(tmp_path / "broken.parquet", b"PAR1 this is not parquet")
    _, rejects = ingest_all([str(tmp_path)])
    assert reasons(rejects) == {"broken.parquet": "undecodable"}


# ------------------------------------------------------------------ decode_batch

TEXT = "Grüße aus Köln — “quoted” text, 5 €."


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"plain ascii", "utf-8"),
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("cp1252"), "cp1252"),
        ("Chelsea paid £2m for the café.".encode("latin-1"), "cp1252"),
    ],
)
def test_encodings(data: bytes, encoding: str) -> None:
    row, reject = decode_one(data)
    assert reject is None
    assert row["encoding"] == encoding
    assert row["decoded"].lstrip("\ufeff") in (
        TEXT,
        "plain ascii",
        "Chelsea paid £2m for the café.",
    )


def test_non_latin_scripts_and_emoji_decode() -> None:
    text = "Привет, мир. 你好，世界。 مرحبا بالعالم 👩‍👩‍👧 🎉"
    row, _ = decode_one(text.encode())
    assert row["decoded"] == text and row["encoding"] == "utf-8"
    cyrillic = "Москва — столица России, крупнейший по численности населения город страны. " * 5
    row, _ = decode_one(cyrillic.encode("cp1251"))
    assert row["decoded"] == cyrillic


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04" + b"\x00" * 50,
        b"text\x00\x00\x00\x00with many\x00\x00\x00NULs\x00\x00" * 20,
        bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16]) * 30,
    ],
)
def test_binary_is_rejected(data: bytes) -> None:
    row, reject = decode_one(data)
    assert row is None and reject["reason"] == ingest.REASON_BINARY


def test_few_nul_bytes_stay_text_for_cleaning() -> None:
    row, _ = decode_one(
        b"A sentence with one stray NUL\x00 byte in a long enough line of text here."
    )
    assert "\x00" in row["decoded"]


def test_undecodable_after_bom() -> None:
    row, reject = decode_one(codecs.BOM_UTF32_LE + b"\xff\xff\xff\xff")
    assert row is None and reject["reason"] == ingest.REASON_UNDECODABLE


def test_html_main_text_and_metadata() -> None:
    page = (
        "<html><head><title>Site | Big news</title><meta name='author' content='Jane Doe'>"
        "<meta property='article:published_time' content='2019-06-05T10:00:00Z'></head><body>"
        "<nav><a href='/'>Home</a></nav><article><h1>Big news</h1>"
        "<p>The first paragraph of the article explains what happened in some detail today.</p>"
        "<p>The second paragraph adds quotes &amp; context so that the extractor keeps it.</p>"
        "</article><footer>Copyright 2019</footer></body></html>"
    )
    row, reject = decode_one(page.encode(), "html")
    assert reject is None
    assert row["meta_author"] == "Jane Doe"
    assert row["meta_published_date"] == dt.date(2019, 6, 5)
    assert "Big news" in row["meta_title"]
    assert (
        "first paragraph of the article explains what happened in some detail today.\n\n"
        in row["decoded"]
    )
    assert "&amp;" not in row["decoded"] and "Home" not in row["decoded"]


def test_html_without_main_text_falls_back_to_tag_stripping() -> None:
    page = (
        b"<html><head><title>Tiny &amp; page</title><script>x()</script></head>"
        b"<body><p>Tiny.</p></body></html>"
    )
    row, reject = decode_one(page, "html")
    assert reject is None
    assert row["meta_title"] == "Tiny & page"
    assert "Tiny." in row["decoded"]
    assert "x()" not in row["decoded"] and "<p>" not in row["decoded"]


# ------------------------------------------------------------------ linear-time HTML fallback
# What ingest.py did before its rewrites for linear time: the references the rewrites must agree
# with exactly, on text short enough for these regexes to stay fast.

OLD_SCRIPT_STYLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
OLD_BLOCK_TAG = re.compile(
    r"</?(p|div|br|li|h[1-6]|tr|article|section|blockquote|pre)\b[^>]*>", re.I
)
OLD_ANY_TAG = re.compile(r"<!--.*?-->|<[^>]+>", re.S)
OLD_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)


def old_strip_tags(markup: str) -> str:
    """_strip_tags as it was, with the old regexes."""
    text = OLD_SCRIPT_STYLE.sub(" ", markup)
    text = OLD_BLOCK_TAG.sub("\n\n", text)
    return html.unescape(OLD_ANY_TAG.sub(" ", text))


def old_html_title(markup: str) -> str | None:
    """_html_title as it was, with the old regex."""
    match = OLD_TITLE_TAG.search(markup)
    return html.unescape(" ".join(match.group(1).split())) or None if match else None


# What opens and closes the fallback's patterns.
MARKS = (
    "<", ">", "!--", "-->", "/", "script", "style", "noscript", "template", "title", "p", "br",
    "div", "\n", " ", "a", "A",
)  # fmt: skip


def texts(*tokens: str) -> st.SearchStrategy[str]:
    """Short text made of `tokens`: the old regexes stay fast on it."""
    return st.lists(st.sampled_from(tokens), max_size=40).map("".join)


MARKUP = texts(
    *MARKS, "<!--", "</", "<p>", "</p>", "<br/>", "pre", "h1", "\t", "-", "!", "=", '"', "&amp;",
    "<script>", "</script>", "<title>", "</title>", "<!---->",
)  # fmt: skip
# Elements and titles more often closed. A case-insensitive name also matches 'ſ' for 's', and
# 'ı' or 'İ' for 'i'.
SCRIPTS = texts(
    "<", ">", "/", " ", "\n", "a", "s", "script", "<script", "<style", "<noscript", "<template",
    "</script>", "</style >", "</noscript\n>", "</template>", "<SCRIPT", "</Style>", "<ſcript",
    "<scrİpt", "<scrıpt", "</scrİpt>", "<noſcript",
)  # fmt: skip
TITLES = texts(
    "<", ">", "/", " ", "\n", "a", "&amp;", "title", "<title", "<TITLE", "<tİtle", "<tıtle",
    "</title>", "</TITLE>", "</tİtle>",
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.one_of(SCRIPTS, MARKUP))
@example("<script</script>")  # the content starts right after the name, '>' or not
@example("<scripts></scripts>a</script>")  # a longer name opens nothing
@example("<style>a</script><script>b</style></script>")
@example("<scrİpt>x</script>")  # the back-reference compares 'İ' as 'i'...
@example("<scrıpt>x</script> <ſcript>y</script>")  # ...but 'ı' and 'ſ' only as themselves
@example("<template><p>x</p></TEMPLATE >")
def test_script_elements_match_the_old_regex(markup: str) -> None:
    assert ingest._strip_scripts(markup) == OLD_SCRIPT_STYLE.sub(" ", markup)


@settings(max_examples=1000, deadline=None)
@given(MARKUP)
@example("<p<p<p>")  # the first name reads to the '>'
@example("<pre>a<p")  # nothing past the last '>'
@example("<br/><h1 x=1><p")
@example("<p\n>")
def test_block_tags_match_the_old_regex(markup: str) -> None:
    assert ingest._break_blocks(markup) == OLD_BLOCK_TAG.sub("\n\n", markup)


@settings(max_examples=1000, deadline=None)
@given(MARKUP)
@example("<!-->-->")  # a comment closes at the first '-->' after its '<!--'...
@example("<!--->")  # ...not one that overlaps it, so this is a tag
@example("<!-- a > b")  # an unclosed comment is read as a tag
@example("<><<>>")
@example("a<b\nc>d<e")
def test_comments_and_tags_match_the_old_regex(markup: str) -> None:
    assert ingest._replace_tags(markup) == OLD_ANY_TAG.sub(" ", markup)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(TITLES, MARKUP))
@example("<title>a<title>b</title>")
@example("<title x>a</title><title>b")
@example("<title<title>a</TİTLE>")
@example("<title a</title>")  # no '>' after the first '<title' but the closing tag's
def test_title_matches_the_old_regex(markup: str) -> None:
    assert ingest._html_title(markup) == old_html_title(markup)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(MARKUP, SCRIPTS, TITLES))
@example("<p>a &amp;amp; b</p><script>c</script><!-- d -->e<br>")
def test_strip_tags_matches_the_old_regexes(markup: str) -> None:
    assert ingest._strip_tags(markup) == old_strip_tags(markup)


def test_decode_batch_works_from_raw_alone(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Title\n\nText.")
    raw, _ = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
    (tmp_path / "a.txt").unlink()
    ingested, rejects = decode_batch(raw, CONFIG)
    assert ingested["decoded"].to_pylist() == ["Title\n\nText."] and rejects.num_rows == 0
    assert ingested.schema == ingest.INGESTED


def test_three_megabyte_single_line(tmp_path: Path) -> None:
    write(tmp_path / "long.txt", "word " * 600_000)
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0 and len(ingested["decoded"][0].as_py()) == 3_000_000


def test_every_input_is_a_document_or_a_reject(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Fine.")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "bin.txt", b"\x00\x01\x02\x03" * 100)
    write(tmp_path / "two.jsonl", '{"text": "a"}\n{"text": "b"}\nbroken\n')
    ingested, rejects = ingest_all([str(tmp_path)])
    assert ingested.num_rows + rejects.num_rows == 6
    assert set(rejects["reason"].to_pylist()) == {"empty", "binary", "undecodable"}


def test_hostile_folder_end_to_end(tmp_path: Path) -> None:
    write(tmp_path / "good" / "one.txt", "Good one.")
    write(tmp_path / "good" / "two.md", "# Good two")
    bytes_name(tmp_path, b"name\xff.txt").write_text("Bad name, good text.")
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink(tmp_path / "missing.txt", tmp_path / "broken.txt")
    os.symlink(tmp_path / "good", tmp_path / "good" / "loop")
    write(tmp_path / "feed.jsonl", '{"text": "Record."}\nnot json\n')
    write(tmp_path / "cut.txt.gz", b"\x1f\x8b" + b"\x00" * 20)
    write(tmp_path / "binary.txt", b"\x00\x01\x02\x03" * 50)
    with nested(tmp_path, "d", 1000, "deep.txt", "Deep."):
        found = within(60, lambda: discover([str(tmp_path)], CONFIG))
        raw, read_rejects = read_inputs(found.inputs, CONFIG)
    ingested, decode_rejects = decode_batch(raw, CONFIG)
    rejects = pa.concat_tables([found.rejects, read_rejects, decode_rejects])
    n_inputs = 10  # 8 files and the 2 records of feed.jsonl
    assert ingested.num_rows + rejects.num_rows == n_inputs
    assert sorted(ingested["decoded"].to_pylist()) == [
        "# Good two",
        "Bad name, good text.",
        "Deep.",
        "Good one.",
        "Record.",
    ]
    assert reasons(rejects) == {
        "pipe.txt": "not_a_file",
        "broken.txt": "unreadable",
        "feed.jsonl#1": "undecodable",
        "cut.txt.gz": "undecodable",
        "binary.txt": "binary",
    }
    bad_name = ingested.filter(pa.compute.equal(ingested["decoded"], "Bad name, good text."))
    assert bad_name["source_uri"][0].as_py().startswith("file://")


def test_bbc_corpus() -> None:
    if not BBC.is_dir():
        pytest.skip("../shared/corpora/bbc is not present")
    ingested, rejects = ingest_all([str(BBC / "*" / "*.txt")])
    assert rejects.num_rows == 0 and ingested.num_rows == 2225
    assert sorted(set(ingested["collection"].to_pylist())) == [
        "business",
        "entertainment",
        "politics",
        "sport",
        "tech",
    ]
    latin = ingested.filter(
        pa.compute.ends_with(ingested["source_uri"], "sport/199.txt")
    ).to_pylist()[0]
    assert latin["encoding"] == "cp1252" and "£" in latin["decoded"]
