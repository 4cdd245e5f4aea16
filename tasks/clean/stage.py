"""The cleaning stage over whole batches: repeated lines learned per collection, then
`clean_batch`, which loops over a batch once and fills every column; and their tables' schemas.

Repeated-line boilerplate is learned from `line_profile` counts over the whole run: a line is
boilerplate in a collection when `boilerplate_lines` finds it in enough of its documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from proseflow.tasks import schema
from proseflow.tasks.clean.boilerplate import compile_boilerplate
from proseflow.tasks.clean.document import CleanResult, clean_text
from proseflow.tasks.clean.repeated import doc_line_keys
from proseflow.tasks.config import PipelineConfig
from proseflow.tasks.rejects import (
    REASON_EMPTY,
    REASON_ERROR,
    error_detail,
    reject_row,
    rejects_table,
)

CLEANED = pa.schema(
    [
        schema.DOCUMENTS.field(name)
        for name in (
            "doc_id",
            "source_uri",
            "collection",
            "format",
            "encoding",
            "title",
            "author",
            "published_date",
            "text",
            "clean_ops",
            "n_chars_removed",
        )
    ]
)
LINE_PROFILE = pa.schema(
    [
        pa.field("collection", pa.string(), nullable=False),
        pa.field("line_hash", pa.int64(), nullable=False),
        pa.field("n_docs", pa.int64(), nullable=False),
    ]
)
BOILERPLATE = pa.schema(
    [
        pa.field("collection", pa.string(), nullable=False),
        pa.field("line_hash", pa.int64(), nullable=False),
    ]
)


def line_profile(ingested: pa.Table) -> pa.Table:
    """Per collection and line hash, how many documents of the batch contain the line."""
    counts: Counter[tuple[str, int]] = Counter()
    texts = ingested.column("decoded").to_pylist()
    for collection, text in zip(ingested.column("collection").to_pylist(), texts, strict=True):
        counts.update((collection, key) for key in doc_line_keys(text or ""))
    return pa.Table.from_pylist(
        [{"collection": c, "line_hash": h, "n_docs": n} for (c, h), n in counts.items()],
        schema=LINE_PROFILE,
    )


def boilerplate_lines(
    profiles: Sequence[pa.Table], n_docs_per_collection: dict[str, int], config: PipelineConfig
) -> pa.Table:
    """Lines found in >= repeated_line_min_docs and >= repeated_line_min_share of a collection."""
    if not profiles:
        return BOILERPLATE.empty_table()
    merged = pa.concat_tables([p.select(LINE_PROFILE.names).cast(LINE_PROFILE) for p in profiles])
    totals = merged.group_by(["collection", "line_hash"]).aggregate([("n_docs", "sum")])
    frequent = totals.filter(pc.greater_equal(totals["n_docs_sum"], config.repeated_line_min_docs))
    columns = (frequent[k].to_pylist() for k in ("collection", "line_hash", "n_docs_sum"))
    rows = [
        {"collection": c, "line_hash": h}
        for c, h, n in zip(*columns, strict=True)
        if n >= config.repeated_line_min_share * n_docs_per_collection.get(c, 0)
    ]
    rows.sort(key=lambda r: (r["collection"], r["line_hash"]))
    return pa.Table.from_pylist(rows, schema=BOILERPLATE)


def _repeated_by_collection(boilerplate: pa.Table) -> dict[str, frozenset[int]]:
    """The repeated-line keys of each collection."""
    groups: dict[str, set[int]] = {}
    if boilerplate.num_rows:
        cols = zip(
            boilerplate["collection"].to_pylist(), boilerplate["line_hash"].to_pylist(), strict=True
        )
        for collection, key in cols:
            groups.setdefault(collection, set()).add(key)
    return {c: frozenset(keys) for c, keys in groups.items()}


def _columns(table: pa.Table, names: Iterable[str]) -> dict[str, list[Any]]:
    """Columns of a table as Python lists, for the one per-document loop."""
    return {name: table.column(name).to_pylist() for name in names}


def clean_batch(
    ingested: pa.Table, boilerplate: pa.Table, config: PipelineConfig
) -> tuple[pa.Table, pa.Table]:
    """The cleaned batch and the rejects (documents left without text, unexpected failures).

    n_chars_removed = len(decoded) - len(text) - len(title and author taken from the decoded
    text), floored at 0; title/author from HTML or record metadata do not count as kept.
    """
    pattern = compile_boilerplate(config.boilerplate_patterns)
    repeated = _repeated_by_collection(boilerplate)
    cols = _columns(ingested, ingested.schema.names)
    rows, rejects = [], []
    for i in range(ingested.num_rows):
        decoded = cols["decoded"][i] or ""
        ident = {
            k: cols[k][i] for k in ("doc_id", "source_uri", "collection", "format", "encoding")
        }
        try:
            result = clean_text(
                decoded,
                boilerplate=pattern,
                repeated=repeated.get(ident["collection"], frozenset()),
                meta_title=cols["meta_title"][i],
            )
        except Exception as exc:  # never lose a document to an unexpected failure
            reason, detail = REASON_ERROR, error_detail(exc)
        else:
            if result.text:
                rows.append(_cleaned_row(ident, cols, i, result, decoded))
                continue
            reason = REASON_EMPTY
            detail = f"no text left after cleaning ({len(decoded)} characters decoded)"
        uri, collection, doc_id = ident["source_uri"], ident["collection"], ident["doc_id"]
        rejects.append(reject_row(uri, collection, reason, detail, doc_id=doc_id))
    return pa.Table.from_pylist(rows, schema=CLEANED), rejects_table(rejects)


def _cleaned_row(
    ident: dict[str, Any], cols: dict[str, list[Any]], i: int, result: CleanResult, decoded: str
) -> dict[str, Any]:
    """One row of `cleaned`: metadata fields win over the header found in the text."""
    return {
        **ident,
        "title": cols["meta_title"][i] or result.title,
        "author": cols["meta_author"][i] or result.author,
        "published_date": cols["meta_published_date"][i] or result.published_date,
        "text": result.text,
        "clean_ops": list(result.ops),
        "n_chars_removed": max(0, len(decoded) - len(result.text) - result.n_header_chars),
    }
