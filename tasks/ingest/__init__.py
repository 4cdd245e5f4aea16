"""Ingestion: find inputs under SOURCE arguments, read their bytes, decode them into documents.

Every input ends up as a row of the raw/ingested batch or as a reject row with a reason code.

Modules, lowest first (each imports only those above it, and `tasks.rejects` and `tasks.dates`;
`extract` borrows the linear-time `strip_elements` of `tasks.clean.markup`):

- `uris`: how inputs are named: the source_uri of a local path (a file:// URL when the name is not
  UTF-8) and back, and text Arrow can hold.
- `sources`: discovery: input formats by file name, walking local folders and globs without
  blocking on FIFOs or looping on symlinks, fsspec listings; `holds_input`.
- `encoding`: bytes to text: BOMs, binary signatures, UTF-8, then a legacy-encoding guess.
- `read`: an input's bytes: local files and fsspec URLs, gzip decompressed within max_bytes; the
  raw row of some bytes.
- `records`: record formats (JSON Lines, CSV, Parquet): a file's records as raw rows and rejects,
  and the text, title, author and date fields of one record.
- `extract`: the text of an HTML page: trafilatura's main text and metadata, else its tags
  stripped in linear time.
- `stage`: the stage's entry points over whole batches (`discover`, `read_inputs`,
  `decode_batch`) and the schemas of the tables they return.
"""
