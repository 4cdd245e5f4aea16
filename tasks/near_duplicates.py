"""Near-duplicate detection: MinHash signatures over word shingles, LSH candidates, clusters.

A document's words are the runs of letters, digits and underscores of its lowercased text; its
shingles are the runs of `shingle_size` consecutive words (the whole text when it is shorter).
Each shingle gets a 64-bit hash that this module defines, so signatures are the same in every
process and on every platform:

- word hash: the 8-byte BLAKE2b digest of the word's UTF-8 bytes, read little-endian;
- shingle hash: MurmurHash3's 64-bit finalizer (fmix64) of sum(word_hash[i + j] * P**j) mod 2**64
  over the shingle's words j = 0, 1, ..., with P = 0x9E3779B97F4A7C15.

The signature is rensa's full-set R-MinHash of the set of shingle hashes (NUM_PERM slots of
uint32, seed SEED). rensa is pinned exactly: a new version may compute other values, and
signatures of different versions must never be compared.

`clusters` estimates the Jaccard similarity of two documents as the share of equal signature
slots. LSH banding proposes candidate pairs, the estimate confirms them at the threshold, and the
connected components of confirmed pairs are the clusters.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from hashlib import blake2b

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import rensa

from proseflow.tasks import config

NUM_PERM = 128
SEED = 1
# The defaults of --shingle-size and --near-duplicate-threshold (bench/near_duplicate_cases.py
# measures how they were chosen).
SHINGLE_SIZE = config.SHINGLE_SIZE
THRESHOLD = config.NEAR_DUPLICATE_THRESHOLD
SIGNATURE_TYPE = pa.list_(pa.uint32(), NUM_PERM)

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field(
            "doc_id",
            pa.string(),
            nullable=False,
            metadata={"description": "A document that has at least one near-duplicate."},
        ),
        pa.field(
            "representative_id",
            pa.string(),
            nullable=False,
            metadata={"description": "The smallest doc_id of the document's cluster."},
        ),
        pa.field(
            "similarity",
            pa.float64(),
            nullable=False,
            metadata={
                "description": "Estimated Jaccard similarity of the document's shingles to the "
                "representative's (share of equal MinHash slots); 1.0 for the representative."
            },
        ),
    ]
)

WORD = re.compile(r"\w+")
SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
BAND_MULTIPLIER = np.uint64(0xD6E8FEB86659FD93)
# Pairs compared per step when confirming candidates: bounds the temporary (pairs x NUM_PERM) block.
CONFIRM_CHUNK = 1 << 15


def words(text: str) -> list[str]:
    """The words of a text: lowercased runs of letters, digits and underscores."""
    return WORD.findall(text.lower())


def shingle_set(text: str, shingle_size: int = SHINGLE_SIZE) -> set[tuple[str, ...]]:
    """The exact shingle set that a signature summarises (for measuring the estimate)."""
    tokens = words(text)
    if len(tokens) <= shingle_size:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + shingle_size]) for i in range(len(tokens) - shingle_size + 1)}


def signatures(texts: pa.Array | pa.ChunkedArray, shingle_size: int = SHINGLE_SIZE) -> pa.Array:
    """One signature per text (SIGNATURE_TYPE); null where the text has no shingle (empty/None)."""
    if shingle_size < 1:
        raise ValueError(f"shingle_size must be at least 1, got {shingle_size}")
    token_lists = [words(text) if text else [] for text in texts.to_pylist()]
    word_hashes, word_offsets = _word_hashes(token_lists)
    hashes, offsets = _shingle_hashes(word_hashes, word_offsets, shingle_size)
    present = np.diff(offsets) > 0
    matrix = np.zeros((len(token_lists), NUM_PERM), dtype=np.uint32)
    matrix[present] = _minhash(hashes, np.concatenate(([0], offsets[1:][present])))
    return pa.FixedSizeListArray.from_arrays(
        pa.array(matrix.ravel()), type=SIGNATURE_TYPE, mask=pa.array(~present)
    )


def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def _word_hashes(token_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Every token's hash, flat, with each text's offsets; each distinct word is hashed once."""
    nested = pa.array(token_lists, type=pa.large_list(pa.large_string()))
    encoded = nested.values.dictionary_encode()
    vocabulary = encoded.dictionary.to_pylist()
    vocabulary_hashes = np.fromiter(map(_word_hash, vocabulary), np.uint64, len(vocabulary))
    return vocabulary_hashes[encoded.indices.to_numpy()], nested.offsets.to_numpy()


def _shingle_hashes(
    word_hashes: np.ndarray, word_offsets: np.ndarray, shingle_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle's hash, flat, with each text's offsets (the module docstring's formula)."""
    counts = np.diff(word_offsets)
    shingle_counts = np.where(counts >= shingle_size, counts - shingle_size + 1, counts > 0)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(shingle_counts, out=offsets[1:])
    text = np.repeat(np.arange(len(counts)), shingle_counts)
    starts = word_offsets[:-1][text] + np.arange(offsets[-1]) - offsets[:-1][text]
    ends = word_offsets[1:][text]
    # A text shorter than a shingle has fewer terms: its missing words read a zero past the end.
    padded = np.append(word_hashes, np.uint64(0))
    total = np.zeros(offsets[-1], dtype=np.uint64)
    for j, multiplier in enumerate(_powers(shingle_size)):
        total += padded[np.where(starts + j < ends, starts + j, len(word_hashes))] * multiplier
    return _fmix64(total), offsets


@cache
def _powers(count: int) -> tuple[np.uint64, ...]:
    """P**j mod 2**64 for the shingle's word positions j."""
    return tuple(np.uint64(pow(int(SHINGLE_MULTIPLIER), j, 2**64)) for j in range(count))


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: spreads every input bit over the whole hash."""
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xFF51AFD7ED558CCD)
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xC4CEB9FE1A85EC53)
    return values ^ (values >> np.uint64(33))


def _minhash(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """R-MinHash signatures (rows x NUM_PERM uint32) of the hash sets between the offsets."""
    if len(offsets) < 2:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        hashes, offsets.astype(np.uint64), NUM_PERM, SEED
    )
    rows = len(offsets) - 1
    flat = np.fromiter(itertools.chain.from_iterable(matrix.to_rows()), np.uint32, rows * NUM_PERM)
    return flat.reshape(rows, NUM_PERM)


@cache
def lsh_bands(
    threshold: float, num_perm: int = NUM_PERM, false_negative_weight: float = 0.9
) -> tuple[int, int]:
    """Bands and rows per band that minimise the weighted LSH error around the threshold.

    Two documents of Jaccard similarity s share at least one band with probability
    1 - (1 - s**rows)**bands. The error is the weighted sum of that probability integrated below
    the threshold (false candidates) and of its complement integrated above (missed pairs). A
    missed pair is weighted more: every candidate is confirmed by its estimate anyway, so a false
    candidate costs one comparison while a missed pair is a lost duplicate.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    similarity = np.linspace(0.0, 1.0, 2001)
    below = similarity <= threshold
    best = (np.inf, 1, num_perm)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        candidate = 1.0 - (1.0 - similarity**rows) ** bands
        false_positive = _integral(candidate[below], similarity[below])
        false_negative = _integral(1.0 - candidate[~below], similarity[~below])
        miss = false_negative_weight
        best = min(best, ((1 - miss) * false_positive + miss * false_negative, bands, rows))
    return best[1], best[2]


def _integral(values: np.ndarray, points: np.ndarray) -> float:
    """Trapezoidal integral of sampled values."""
    if len(points) < 2:
        return 0.0
    return float(np.sum((values[1:] + values[:-1]) * np.diff(points)) / 2)


def clusters(
    doc_ids: pa.Array | pa.ChunkedArray,
    signatures: pa.Array | pa.ChunkedArray,
    threshold: float = THRESHOLD,
) -> pa.Table:
    """Columns doc_id (string), representative_id (string), similarity (float64), sorted by doc_id:
    one row per document in a cluster of 2 or more, the representative included (similarity 1.0)."""
    ids, matrix = _documents(doc_ids, signatures)
    left, right = _candidate_pairs(matrix, *lsh_bands(threshold))
    confirmed = _similarity(matrix, left, right) >= threshold
    roots = _components(len(ids), left[confirmed], right[confirmed])
    members = np.flatnonzero(np.bincount(roots, minlength=len(ids))[roots] > 1)
    representatives = roots[members]
    return pa.table(
        [
            ids.take(members),
            ids.take(representatives),
            pa.array(_similarity(matrix, members, representatives), pa.float64()),
        ],
        schema=CLUSTERS_SCHEMA,
    )


def _documents(
    doc_ids: pa.Array | pa.ChunkedArray, signatures: pa.Array | pa.ChunkedArray
) -> tuple[pa.Array, np.ndarray]:
    """One row per distinct doc_id with a signature, sorted by doc_id, and its signature matrix.

    Rows repeating a doc_id collapse into one, chosen by content so that input order cannot matter:
    a row with a signature before a null one, then the lexicographically smallest signature.
    """
    ids = _combined(doc_ids).cast(pa.string())
    sigs = _combined(signatures)
    if len(ids) != len(sigs):
        raise ValueError(f"doc_ids has {len(ids)} rows but signatures has {len(sigs)}")
    if ids.null_count:
        raise ValueError(f"doc_ids has {ids.null_count} null values; every row needs a doc_id")
    matrix, present = _signature_matrix(sigs)
    order = _canonical_order(ids, matrix, present)
    ids = ids.take(order)
    first = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    keep = np.flatnonzero(first & present[order])
    return ids.take(keep), matrix[order[keep]]  # one copy of the matrix, in its final order


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    return values


def _signature_matrix(sigs: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The signatures as a (rows x NUM_PERM) uint32 matrix, zeros where null, and the non-null mask."""
    try:
        sigs = sigs.cast(SIGNATURE_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(
            f"signatures must be lists of {NUM_PERM} uint32 values (SIGNATURE_TYPE) as "
            f"`signatures` makes them, got {sigs.type}: {error}"
        ) from error
    present = sigs.is_valid().to_numpy(zero_copy_only=False)
    values = sigs.flatten()  # the slots of non-null signatures only
    if values.null_count:
        values = pc.fill_null(values, 0)
    if not sigs.null_count:  # a read-only view of the Arrow buffer: no copy of every signature
        return values.to_numpy().reshape(-1, NUM_PERM), present
    matrix = np.zeros((len(sigs), NUM_PERM), dtype=np.uint32)
    matrix[present] = values.to_numpy().reshape(-1, NUM_PERM)
    return matrix, present


def _canonical_order(ids: pa.Array, matrix: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Row order by doc_id; rows of one doc_id ordered by content (see `_documents`)."""
    order = pc.sort_indices(ids).to_numpy()
    sorted_ids = ids.take(order)
    if len(order) < 2 or pc.count_distinct(sorted_ids).as_py() == len(order):
        return order
    group = np.zeros(len(order), dtype=np.int64)
    group[1:] = np.cumsum(pc.not_equal(sorted_ids[1:], sorted_ids[:-1]).to_numpy(False))
    repeated = np.flatnonzero(np.bincount(group)[group] > 1)
    rows = order[repeated]
    order = order.copy()  # arrow's buffer is read-only
    # lexsort's last key sorts first: doc_id group, then signature before null, then slot by slot
    slots = [matrix[rows, slot] for slot in range(NUM_PERM - 1, -1, -1)]
    order[repeated] = rows[np.lexsort([*slots, ~present[rows], group[repeated]])]
    return order


def _candidate_pairs(matrix: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (left < right) of documents sharing a band, each member linked to its bucket's first.

    Linking to the first member keeps a bucket of k equal keys at k - 1 pairs instead of k**2 / 2;
    members of one bucket share `rows` slots, so they are almost always similar to each other.
    """
    count = len(matrix)
    keys = []
    for band in range(bands):
        band_keys = _band_keys(matrix[:, band * rows : (band + 1) * rows])
        order = np.argsort(band_keys, kind="stable")  # equal keys stay in document order
        sorted_keys = band_keys[order]
        starts = np.ones(count, dtype=bool)
        starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
        first = order[np.maximum.accumulate(np.where(starts, np.arange(count), 0))]
        keys.append(first[~starts].astype(np.int64) * count + order[~starts])
    pairs = np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    return pairs // max(count, 1), pairs % max(count, 1)


def _band_keys(band: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a band; equal slots give equal keys (a collision only adds a
    candidate, which confirmation then rejects)."""
    key = np.zeros(len(band), dtype=np.uint64)
    for column in band.T:
        key = (key + column.astype(np.uint64)) * BAND_MULTIPLIER
    return _fmix64(key)


def _similarity(matrix: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of each pair: the share of equal signature slots."""
    equal = np.zeros(len(left), dtype=np.int64)
    for start in range(0, len(left), CONFIRM_CHUNK):
        part = slice(start, start + CONFIRM_CHUNK)
        equal[part] = np.count_nonzero(matrix[left[part]] == matrix[right[part]], axis=1)
    return equal / NUM_PERM


def _components(count: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each document's component root, the component's smallest index (vectorised union-find).

    Every round hooks the larger root of each still-split edge under the smaller one, then
    compresses paths until every document points at its root; a root only ever gains a smaller
    parent, so the last root standing is the component's minimum.
    """
    parent = np.arange(count)
    while True:
        low = np.minimum(parent[left], parent[right])
        high = np.maximum(parent[left], parent[right])
        split = low != high
        if not split.any():
            return parent
        np.minimum.at(parent, high[split], low[split])
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
