"""Labelled pairs of BBC articles for near-duplicate detection, and how well `clusters` finds them.

Positive pairs join an article and a copy of it made one way (a kind):

- `outlet`: another outlet's header and footer lines added (1-2 header lines, 1-3 footer lines);
- `edited`: 2 to 6 words replaced by words drawn from an article of the same collection;
- `paragraph_added`: a paragraph of another article of the same collection inserted;
- `paragraph_removed`: one paragraph after the headline removed;
- `truncated`: the first 60-90 % of the characters kept, cut at a space.

A paragraph added or removed is one of at most a quarter of the article's words: a larger one makes
another document, not a copy. Negative pairs join two distinct articles:

- `same_topic`: for each article, the article of its collection (business, sport, ...) with the
  largest share of common vocabulary (word-set Jaccard); the most overlapping pairs are kept;
- `random`: two articles drawn at random from the whole corpus.

The BBC corpus itself holds versions of one story (copies, rewrites of a developing story). Two
articles are versions of one story when they share their headline, or when at least half of the
8-word runs of the shorter one occur in the other; versions are joined transitively, and a negative
pair never joins two versions of one story.

Everything is drawn from a seeded `random.Random`, so a seed and corpus give the same cases.
`predicted_duplicates` runs `clusters` over the signatures of every document of the cases and
counts a pair as predicted duplicate when both documents end in the same cluster; `measure` turns
that into precision and recall per kind, and `sweep` does so over a grid of shingle sizes and
thresholds (how SHINGLE_SIZE and THRESHOLD were chosen).

`through_run` measures the same cases through the whole pipeline: it writes every case document as
`cases/COLLECTION/NAME.txt` (UTF-8), runs `proseflow run cases/ --output FRESH --json` and counts a
pair as predicted duplicate when the run committed both documents as one doc_id (byte-identical
copies: the second is rejected as `duplicate`) or linked them to one representative in
`near_duplicates/`. `section` runs both measurements for bench/run.py's report.

    .venv/bin/python -m bench.near_duplicate_cases [--corpus DIR] [--per-kind 150] [--seed 2005]
                                                   [--shingle-size N] [--threshold T] [--sweep]
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: processes, run
from processes import run_measured  # noqa: E402
from run import fresh, parse_summary, proseflow_cmd, timeout_for, with_error  # noqa: E402

from proseflow.tasks import near_duplicates  # noqa: E402
from proseflow.tasks.rejects import REASON_DUPLICATE  # noqa: E402
from proseflow.tasks.store.output import Output  # noqa: E402

POSITIVE_KINDS = ("outlet", "edited", "paragraph_added", "paragraph_removed", "truncated")
NEGATIVE_KINDS = ("same_topic", "random")
DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "bbc"
DEFAULT_SEED = 2005
DEFAULT_PER_KIND = 150
STORY_RUN = 8  # words per run when telling versions of one story apart
STORY_SHARE = 0.5
PARAGRAPH_SHARE = 0.25  # largest share of an article's words that an added or removed paragraph has
WORD = re.compile(r"\w+")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
UNSAFE = re.compile(r"[^\w.-]")  # characters a case file name replaces by "-"

OUTLETS = (
    ("The Northern Ledger", "northernledger.example"),
    ("Daily Courier Online", "dailycourier.example"),
    ("Metro Wire Service", "metrowire.example"),
    ("The Evening Dispatch", "eveningdispatch.example"),
    ("Coastal News Network", "coastalnews.example"),
)
HEADERS = (
    "{outlet} | {section} | {date}",
    "Published {date} by {outlet} staff",
    "From the {outlet} {section} desk",
    "Home > News > {section}",
)
FOOTERS = (
    "Copyright 2005 {outlet}. All rights reserved.",
    "Share this article: Email | Facebook | Twitter | Print",
    "Read more {section} stories at www.{site}",
    "Sign up for the {outlet} newsletter to get the top stories every morning.",
    "This story was first published on {date} and has been updated.",
)
DATES = ("3 February 2005", "14 March 2005", "21 December 2004", "9 January 2005")


@dataclass(frozen=True)
class Article:
    doc_id: str
    collection: str
    text: str


@dataclass(frozen=True)
class Case:
    kind: str
    duplicate: bool
    left: str
    right: str


@dataclass(frozen=True)
class CaseSet:
    documents: dict[str, str]
    cases: list[Case]


@dataclass(frozen=True)
class Quality:
    kind: str
    duplicate: bool
    pairs: int
    predicted: int  # pairs predicted duplicate
    precision: float
    recall: float


def read_articles(corpus: Path = DEFAULT_CORPUS) -> list[Article]:
    """Every `COLLECTION/NAME.txt` article of the corpus, in path order, doc_id `COLLECTION/NAME`."""
    articles = []
    for path in sorted(corpus.glob("*/*.txt")):
        articles.append(Article(f"{path.parent.name}/{path.stem}", path.parent.name, _read(path)))
    return articles


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # one BBC file is Latin-1


def build_cases(
    articles: list[Article], *, seed: int = DEFAULT_SEED, per_kind: int = DEFAULT_PER_KIND
) -> CaseSet:
    """`per_kind` labelled pairs of every kind (fewer where too few articles qualify)."""
    rng = random.Random(seed)
    documents = {article.doc_id: article.text for article in articles}
    cases = []
    for kind in POSITIVE_KINDS:
        for article, copy in _copies(kind, articles, rng, per_kind):
            copy_id = f"{article.doc_id}~{kind}"
            documents[copy_id] = copy
            cases.append(Case(kind, True, article.doc_id, copy_id))
    word_ids = _word_ids(articles)
    stories = _stories(articles, word_ids)
    for left, right in _same_topic_pairs(articles, word_ids, stories, per_kind):
        cases.append(Case("same_topic", False, left, right))
    for left, right in _random_pairs(articles, stories, rng, per_kind):
        cases.append(Case("random", False, left, right))
    used = {doc_id for case in cases for doc_id in (case.left, case.right)}
    return CaseSet({doc_id: documents[doc_id] for doc_id in sorted(used)}, cases)


def _copies(kind: str, articles: list[Article], rng: random.Random, count: int):
    """(article, copy) pairs of one positive kind, for `count` articles drawn at random."""
    make = {
        "outlet": _with_outlet,
        "edited": _edited,
        "paragraph_added": _paragraph_added,
        "paragraph_removed": _paragraph_removed,
        "truncated": _truncated,
    }[kind]
    by_collection = defaultdict(list)
    for article in articles:
        by_collection[article.collection].append(article)
    made = []
    for article in rng.sample(articles, len(articles)):
        copy = make(article, by_collection[article.collection], rng)
        if copy is not None:
            made.append((article, copy))
        if len(made) == count:
            break
    return made


def _paragraphs(text: str) -> list[str]:
    return [part.strip() for part in PARAGRAPH_BREAK.split(text.strip()) if part.strip()]


def _with_outlet(article: Article, _: list[Article], rng: random.Random) -> str:
    outlet, site = rng.choice(OUTLETS)
    fields = {
        "outlet": outlet,
        "site": site,
        "section": article.collection.title(),
        "date": rng.choice(DATES),
    }
    headers = [line.format(**fields) for line in rng.sample(HEADERS, rng.randint(1, 2))]
    footers = [line.format(**fields) for line in rng.sample(FOOTERS, rng.randint(1, 3))]
    return "\n\n".join([*headers, *_paragraphs(article.text), *footers])


def _edited(article: Article, collection: list[Article], rng: random.Random) -> str:
    tokens = re.split(r"(\s+)", article.text.strip())  # words at even positions, spaces at odd
    donor = rng.choice(collection).text.split()
    for position in rng.sample(range(0, len(tokens), 2), rng.randint(2, 6)):
        tokens[position] = rng.choice(donor)
    return "".join(tokens)


def _paragraph_added(article: Article, collection: list[Article], rng: random.Random) -> str | None:
    paragraphs = _paragraphs(article.text)
    limit = PARAGRAPH_SHARE * len(article.text.split())
    donors = [other for other in collection if other.doc_id != article.doc_id]
    extra = [p for p in _paragraphs(rng.choice(donors).text)[1:] if len(p.split()) <= limit]
    if not extra:
        return None
    paragraphs.insert(rng.randint(1, len(paragraphs)), rng.choice(extra))
    return "\n\n".join(paragraphs)


def _paragraph_removed(article: Article, _: list[Article], rng: random.Random) -> str | None:
    paragraphs = _paragraphs(article.text)
    limit = PARAGRAPH_SHARE * len(article.text.split())
    small = [i for i in range(1, len(paragraphs)) if len(paragraphs[i].split()) <= limit]
    if not small:
        return None
    del paragraphs[rng.choice(small)]
    return "\n\n".join(paragraphs)


def _truncated(article: Article, _: list[Article], rng: random.Random) -> str:
    text = article.text.strip()
    cut = int(len(text) * rng.uniform(0.6, 0.9))
    return text[: text.rfind(" ", 0, cut) if " " in text[:cut] else cut]


def _word_ids(articles: list[Article]) -> list[np.ndarray]:
    """Each article's words as numbers, one number per distinct word of the corpus."""
    nested = pa.array(
        [WORD.findall(article.text.lower()) for article in articles],
        pa.large_list(pa.large_string()),
    )
    ids = nested.values.dictionary_encode().indices.to_numpy().astype(np.int64)
    return np.split(ids, nested.offsets.to_numpy()[1:-1])


def _stories(articles: list[Article], word_ids: list[np.ndarray]) -> dict[str, int]:
    """Each article's story: versions of one story (see the module docstring) share a number."""
    parent = list(range(len(articles)))
    for a, b in _same_story_pairs(articles, word_ids):
        parent[_root(parent, a)] = _root(parent, b)
    return {article.doc_id: _root(parent, i) for i, article in enumerate(articles)}


def _same_story_pairs(articles: list[Article], word_ids: list[np.ndarray]):
    """Index pairs of articles that share their headline or half the runs of the shorter one."""
    by_headline = defaultdict(list)
    for i, article in enumerate(articles):
        by_headline[article.text.strip().split("\n", 1)[0].strip().lower()].append(i)
    for same in by_headline.values():
        yield from zip(same, same[1:], strict=False)
    runs = [_run_keys(ids) for ids in word_ids]
    holder = np.repeat(np.arange(len(runs)), [len(keys) for keys in runs])
    keys = np.concatenate(runs)
    order = np.argsort(keys, kind="stable")
    keys, holder = keys[order], holder[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    shared = Counter()
    several = ends - starts > 1
    for start, end in zip(starts[several].tolist(), ends[several].tolist(), strict=True):
        shared.update(itertools.combinations(holder[start:end].tolist(), 2))
    for (a, b), count in shared.items():
        if count >= STORY_SHARE * min(len(runs[a]), len(runs[b])):
            yield a, b


def _run_keys(ids: np.ndarray) -> np.ndarray:
    """The distinct runs of STORY_RUN words of one article, as 64-bit keys."""
    ids = ids.astype(np.uint64) + np.uint64(1)  # 0 pads a text shorter than a run
    if len(ids) < STORY_RUN:
        ids = np.pad(ids, (0, STORY_RUN - len(ids)))
    powers = np.uint64(0x9E3779B97F4A7C15) ** np.arange(STORY_RUN, dtype=np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(ids, STORY_RUN)
    return np.unique((windows * powers).sum(axis=1))


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _same_topic_pairs(
    articles: list[Article], word_ids: list[np.ndarray], stories: dict[str, int], count: int
):
    """The `count` most vocabulary-overlapping pairs among each article's closest other story."""
    best = {}
    by_collection = defaultdict(list)
    for i, article in enumerate(articles):
        by_collection[article.collection].append(i)
    for members in by_collection.values():
        overlap = _vocabulary_jaccard([word_ids[i] for i in members])
        story = np.array([stories[articles[i].doc_id] for i in members])
        overlap[story[:, None] == story[None, :]] = -1.0  # versions of one story are no negatives
        for row, column in enumerate(np.argmax(overlap, axis=1)):
            pair = tuple(sorted((articles[members[row]].doc_id, articles[members[column]].doc_id)))
            if overlap[row, column] >= 0:
                best[pair] = float(overlap[row, column])
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return [pair for pair, _ in ranked[:count]]


def _vocabulary_jaccard(word_ids: list[np.ndarray]) -> np.ndarray:
    """Word-set Jaccard similarity of every pair of texts (a square matrix)."""
    vocabularies = [np.unique(ids) for ids in word_ids]
    sizes = np.array([len(vocabulary) for vocabulary in vocabularies], dtype=np.float32)
    # Only words of two texts or more can be common: the others would only widen the matrix.
    words, counts = np.unique(np.concatenate(vocabularies), return_counts=True)
    shared = words[counts > 1]
    present = np.zeros((len(word_ids), len(shared)), dtype=np.float32)
    for row, vocabulary in enumerate(vocabularies):
        present[row, np.searchsorted(shared, vocabulary[np.isin(vocabulary, shared)])] = 1.0
    common = present @ present.T
    return common / np.maximum(sizes[:, None] + sizes[None, :] - common, 1.0)


def _random_pairs(articles: list[Article], stories: dict[str, int], rng: random.Random, count: int):
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < min(count, len(articles) // 2):
        left, right = rng.sample(articles, 2)
        if stories[left.doc_id] != stories[right.doc_id]:
            pairs.add(tuple(sorted((left.doc_id, right.doc_id))))
    return sorted(pairs)


def case_signatures(
    case_set: CaseSet, shingle_size: int = near_duplicates.SHINGLE_SIZE
) -> tuple[pa.Array, pa.Array]:
    """The doc_ids and signatures of every document of the cases."""
    doc_ids = pa.array(list(case_set.documents), pa.string())
    texts = pa.array(list(case_set.documents.values()), pa.string())
    return doc_ids, near_duplicates.signatures(texts, shingle_size)


def predicted_duplicates(
    case_set: CaseSet,
    doc_ids: pa.Array,
    signatures: pa.Array,
    threshold: float = near_duplicates.THRESHOLD,
) -> list[bool]:
    """For every case, whether `clusters` puts both documents in one cluster."""
    table = near_duplicates.clusters(doc_ids, signatures, threshold)
    members, representatives = table["doc_id"].to_pylist(), table["representative_id"].to_pylist()
    cluster = dict(zip(members, representatives, strict=True))
    return [
        case.left in cluster and cluster.get(case.left) == cluster.get(case.right)
        for case in case_set.cases
    ]


def measure(case_set: CaseSet, predicted: list[bool]) -> list[Quality]:
    """Precision and recall overall (kind `all`) and per kind.

    A positive kind's recall is the share of its pairs found, its precision counts its hits
    against every false positive. A negative kind's precision counts every hit against its own
    false positives, its recall is the overall recall.
    """
    hits = defaultdict(int)
    pairs = defaultdict(int)
    for case, found in zip(case_set.cases, predicted, strict=True):
        pairs[case.kind] += 1
        hits[case.kind] += found
    true_positives = sum(hits[kind] for kind in POSITIVE_KINDS)
    false_positives = sum(hits[kind] for kind in NEGATIVE_KINDS)
    positives = sum(pairs[kind] for kind in POSITIVE_KINDS)
    recall = _ratio(true_positives, positives)
    rows = [
        Quality(
            "all",
            True,
            sum(pairs.values()),
            true_positives + false_positives,
            _ratio(true_positives, true_positives + false_positives),
            recall,
        )
    ]
    for kind in POSITIVE_KINDS:
        precision = _ratio(hits[kind], hits[kind] + false_positives)
        rows.append(
            Quality(kind, True, pairs[kind], hits[kind], precision, _ratio(hits[kind], pairs[kind]))
        )
    for kind in NEGATIVE_KINDS:
        precision = _ratio(true_positives, true_positives + hits[kind])
        rows.append(Quality(kind, False, pairs[kind], hits[kind], precision, recall))
    return rows


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def exact_similarities(case_set: CaseSet, shingle_size: int) -> list[float]:
    """Every case's exact Jaccard similarity of the two documents' shingle sets."""
    shingles = {
        doc_id: near_duplicates.shingle_set(text, shingle_size)
        for doc_id, text in case_set.documents.items()
    }
    similarities = []
    for case in case_set.cases:
        left, right = shingles[case.left], shingles[case.right]
        similarities.append(len(left & right) / len(left | right) if left | right else 1.0)
    return similarities


def report(case_set: CaseSet, *, shingle_size: int, threshold: float) -> str:
    """A Markdown table of the per-kind quality and exact similarities."""
    predicted = predicted_duplicates(case_set, *case_signatures(case_set, shingle_size), threshold)
    exact = defaultdict(list)
    for case, similarity in zip(
        case_set.cases, exact_similarities(case_set, shingle_size), strict=True
    ):
        exact[case.kind].append(similarity)
    lines = [
        f"shingle_size={shingle_size} threshold={threshold}",
        "",
        "| kind | label | pairs | predicted duplicate | precision | recall | exact Jaccard min / median / max |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in measure(case_set, predicted):
        values = exact.get(row.kind) or [value for kind in exact.values() for value in kind]
        label = "duplicate" if row.duplicate else "distinct"
        spread = f"{min(values):.3f} / {np.median(values):.3f} / {max(values):.3f}"
        lines.append(
            f"| {row.kind} | {label if row.kind != 'all' else ''} | {row.pairs} | {row.predicted} "
            f"| {row.precision:.3f} | {row.recall:.3f} | {spread} |"
        )
    return "\n".join(lines)


def sweep(case_set: CaseSet, shingle_sizes, thresholds) -> str:
    """A Markdown table of overall and worst per-kind precision and recall over a parameter grid."""
    lines = [
        "| shingle_size | threshold | precision | recall | worst kind precision | worst kind recall |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for shingle_size in shingle_sizes:
        doc_ids, signatures = case_signatures(case_set, shingle_size)
        for threshold in thresholds:
            predicted = predicted_duplicates(case_set, doc_ids, signatures, threshold)
            rows = measure(case_set, predicted)
            lines.append(
                f"| {shingle_size} | {threshold:.2f} | {rows[0].precision:.3f} | "
                f"{rows[0].recall:.3f} | {min(row.precision for row in rows):.3f} | "
                f"{min(row.recall for row in rows):.3f} |"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- through a run


@dataclass(frozen=True)
class Committed:
    """What a run committed, as far as the cases need it."""

    doc_ids: dict[str, str]  # source_uri -> doc_id, duplicate rejects included
    representatives: dict[str, str]  # doc_id -> representative_id of its cluster


@dataclass(frozen=True)
class RunQuality:
    """The cases measured through a run: per-kind quality, and how the run went."""

    rows: list[Quality]  # empty when the run failed
    run: dict


def case_paths(case_set: CaseSet, folder: Path) -> dict[str, Path]:
    """Each case document's file: `folder/COLLECTION/NAME.txt`, NAME its id with UNSAFE replaced."""
    paths = {}
    for doc_id in case_set.documents:
        collection, _, name = doc_id.partition("/")
        paths[doc_id] = folder / collection / f"{UNSAFE.sub('-', name)}.txt"
    if len(set(paths.values())) < len(paths):
        raise ValueError(f"two case documents of {folder} share a file name; rename the articles")
    return paths


def write_cases(case_set: CaseSet, folder: Path) -> dict[str, Path]:
    """Write every case document as UTF-8 into `folder` (emptied first); return each one's file."""
    paths = case_paths(case_set, fresh(folder))
    for doc_id, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case_set.documents[doc_id].encode("utf-8"))
    return paths


def read_committed(output: Path) -> Committed:
    """The doc_ids and clusters that the runs committed to `output` (a fresh output: one run)."""
    store = Output.open(output, create=False)
    return committed_ids(
        store.read("documents", ["source_uri", "doc_id"]),
        store.read("rejects", ["source_uri", "doc_id", "reason"]),
        store.read("near_duplicates", ["doc_id", "representative_id"]),
    )


def committed_ids(documents: pa.Table, rejects: pa.Table, links: pa.Table) -> Committed:
    """Each committed input's doc_id and each linked doc_id's representative.

    An input rejected as `duplicate` repeats the bytes of an earlier one (its detail names it):
    its doc_id, the hash of those bytes, is the earlier input's.
    """
    duplicates = rejects.filter(pc.equal(rejects["reason"], REASON_DUPLICATE))
    doc_ids = {}
    for table in (duplicates, documents):
        uris, ids = table["source_uri"].to_pylist(), table["doc_id"].to_pylist()
        doc_ids.update((uri, doc_id) for uri, doc_id in zip(uris, ids, strict=True) if doc_id)
    members, heads = links["doc_id"].to_pylist(), links["representative_id"].to_pylist()
    return Committed(doc_ids, dict(zip(members, heads, strict=True)))


def pipeline_duplicates(
    case_set: CaseSet, paths: dict[str, Path], committed: Committed
) -> list[bool]:
    """For every case, whether the run committed both documents as one doc_id or one cluster."""
    ids = {doc_id: committed.doc_ids.get(str(path)) for doc_id, path in paths.items()}
    return [
        _linked(ids[case.left], ids[case.right], committed.representatives)
        for case in case_set.cases
    ]


def _linked(left: str | None, right: str | None, representatives: dict[str, str]) -> bool:
    if left is None or right is None:  # not committed: rejected, or never read
        return False
    return left == right or representatives.get(left, left) == representatives.get(right, right)


def through_run(case_set: CaseSet, work: Path, env: dict[str, str]) -> RunQuality:
    """`measure` of the cases through `proseflow run WORK/cases --output WORK/out` (run in `env`)."""
    paths = write_cases(case_set, work.resolve() / "cases")
    output = fresh(work.resolve() / "out")
    cmd = proseflow_cmd(work.resolve() / "cases", output)
    measured = run_measured(cmd, env, timeout_for(len(paths)))
    summary = parse_summary(measured.stdout)
    run = {
        "returncode": measured.returncode,
        "wall_s": round(measured.wall_s, 3),
        "inputs": summary.get("n_inputs"),
        "documents": summary.get("n_documents"),
        "rejects_by_reason": summary.get("rejects_by_reason"),
        "near_duplicates": summary.get("near_duplicates"),
    }
    if measured.returncode != 0:
        return RunQuality([], with_error(run, measured))
    committed = read_committed(output)
    run["not_committed"] = sum(str(path) not in committed.doc_ids for path in paths.values())
    return RunQuality(measure(case_set, pipeline_duplicates(case_set, paths, committed)), run)


def section(
    corpus: Path, work: Path, env: dict[str, str], *, per_kind: int, seed: int = DEFAULT_SEED
) -> dict:
    """The labelled cases measured directly (`clusters`) and through a run: bench/run.py's section."""
    case_set = build_cases(read_articles(corpus), seed=seed, per_kind=per_kind)
    direct = measure(case_set, predicted_duplicates(case_set, *case_signatures(case_set)))
    piped = through_run(case_set, work, env)
    return {
        "per_kind": per_kind,
        "seed": seed,
        "shingle_size": near_duplicates.SHINGLE_SIZE,
        "threshold": near_duplicates.THRESHOLD,
        "documents": len(case_set.documents),
        "pairs": len(case_set.cases),
        "direct": [asdict(row) for row in direct],
        "through_run": [asdict(row) for row in piped.rows],
        "run": piped.run,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the per-kind quality of the defaults (or of a parameter grid with --sweep)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-kind", type=int, default=DEFAULT_PER_KIND)
    parser.add_argument("--shingle-size", type=int, default=near_duplicates.SHINGLE_SIZE)
    parser.add_argument("--threshold", type=float, default=near_duplicates.THRESHOLD)
    parser.add_argument("--sweep", action="store_true", help="shingle sizes 2-8, thresholds .3-.8")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus folder {args.corpus} does not exist: pass --corpus DIR", file=sys.stderr)
        return 2
    case_set = build_cases(read_articles(args.corpus), seed=args.seed, per_kind=args.per_kind)
    if args.sweep:
        print(sweep(case_set, range(2, 9), [t / 100 for t in range(30, 85, 5)]))
    else:
        print(report(case_set, shingle_size=args.shingle_size, threshold=args.threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
