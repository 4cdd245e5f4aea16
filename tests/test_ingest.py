"""Tests for tasks/ingest.py: discovery, reading and decoding, with every reject reason."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import json
import os
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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


def test_fifo_is_rejected_not_read(tmp_path: Path) -> None:
    write(tmp_path / "ok.txt", "fine")
    os.mkfifo(tmp_path / "pipe.txt")
    found = discover([str(tmp_path)], CONFIG)
    assert reasons(found.rejects) == {"pipe.txt": ingest.REASON_UNREADABLE}


def test_odd_file_names(tmp_path: Path) -> None:
    names = ["with space.txt", "ünïcødé 文.txt", "-leading-dash.txt"]
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


def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "secret")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip(
                "running as root: permissions do not stop reads (see the dir/vanished test)"
            )
        _, rejects = read_inputs(discover([str(tmp_path)], CONFIG).inputs, CONFIG)
        assert reasons(rejects) == {"locked.txt": "unreadable"}
    finally:
        locked.chmod(0o644)


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
