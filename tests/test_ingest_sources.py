"""Tests for tasks/ingest/sources.py: which files under a SOURCE are inputs, which are rejected
unread, and SOURCE errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest

from proseflow.tasks.errors import SourceError
from proseflow.tasks.ingest.stage import discover
from proseflow.tasks.rejects import REASON_NOT_A_FILE, REASON_UNREADABLE
from tests.ingest_inputs import (
    CONFIG,
    ingest_all,
    nested,
    reasons,
    within,
    write,
)


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
    assert reasons(found.rejects) == {"broken.txt": REASON_UNREADABLE}
    assert "broken symlink" in found.rejects["detail"][0].as_py()


def test_a_file_reached_through_links_is_one_input(tmp_path: Path) -> None:
    write(tmp_path / "a" / "doc.txt", "hello")
    write(tmp_path / "a" / "sub" / "other.txt", "other")
    os.symlink(tmp_path / "a", tmp_path / "link")  # a folder link: its files' real paths are a's
    os.symlink(tmp_path / "a" / "doc.txt", tmp_path / "a" / "sub" / "alias.txt")  # a file link
    sources = [str(tmp_path / "link"), str(tmp_path / "a" / "doc.txt"), str(tmp_path / "a" / "sub")]
    found = discover(sources, CONFIG)
    assert [Path(r.uri).relative_to(tmp_path).as_posix() for r in found.inputs] == [
        "link/doc.txt",
        "link/sub/other.txt",
    ]


def test_discovery_resolves_the_source_once_and_only_links_after_it(tmp_path, monkeypatch):
    # Resolving every entry's path on its own costs a system call per folder above it: cubic in
    # the depth of nested folders (1,000 of them took minutes).
    folder = tmp_path / "src"
    for depth in range(30):
        write(folder / f"{depth}.txt", "text")
        folder = folder / "d"
    os.symlink(tmp_path / "src" / "0.txt", tmp_path / "src" / "link.txt")
    calls = []
    resolve = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda p, **kw: calls.append(p) or resolve(p, **kw))
    found = discover([str(tmp_path / "src")], CONFIG)
    assert len(found.inputs) == 30  # the link is the same file as 0.txt
    assert sorted(Path(p).name for p in calls) == ["link.txt", "src"]


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
        "pipe.txt": REASON_NOT_A_FILE,
        "null.txt": REASON_NOT_A_FILE,
        "sock.txt": REASON_NOT_A_FILE,
    }
    details = " ".join(rejects["detail"].to_pylist())
    assert "FIFO" in details and "socket" in details and "character device" in details
    assert [Path(u).name for u in ingested["source_uri"].to_pylist()] == ["ok.txt"]


def test_fifo_as_the_source_is_a_reject_not_a_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    found = within(30, lambda: discover([str(tmp_path / "pipe.txt")], CONFIG))
    assert found.inputs == []
    assert reasons(found.rejects) == {"pipe.txt": REASON_NOT_A_FILE}


def test_folder_holding_only_a_broken_symlink_is_one_reject(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.txt", tmp_path / "link.txt")
    os.symlink("self.txt", tmp_path / "self.txt")  # a link to itself
    os.symlink(tmp_path / "gone", tmp_path / "latest")  # not an input's name: ignored
    found = discover([str(tmp_path)], CONFIG)
    assert found.inputs == [] and found.n_ignored == 1
    assert reasons(found.rejects) == {
        "link.txt": REASON_UNREADABLE,
        "self.txt": REASON_UNREADABLE,
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
    assert rejects["reason"].to_pylist() == [REASON_UNREADABLE]
    assert "too long" in rejects["detail"][0].as_py()
    assert len(rejects["source_uri"][0].as_py()) > os.pathconf("/", "PC_PATH_MAX")


def test_odd_file_names(tmp_path: Path) -> None:
    names = ["with space.txt", "ünïcødé 文.txt", "-leading-dash.txt", "line\nbreak.txt", "%41.txt"]
    for i, name in enumerate(names):
        write(tmp_path / name, f"document {i}")
    ingested, rejects = ingest_all([str(tmp_path)])
    assert rejects.num_rows == 0
    assert sorted(Path(u).name for u in ingested["source_uri"].to_pylist()) == sorted(names)


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


def test_unknown_url_protocol_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="nosuchproto://x"):
        discover(["nosuchproto://x"], CONFIG)
