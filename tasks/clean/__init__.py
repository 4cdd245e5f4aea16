"""Cleaning: repair and normalise decoded text, split off the article header, strip markup and
boilerplate, join paragraphs broken mid-sentence.

Modules, lowest first (each imports only those above it, besides `tasks.dates` and
`tasks.rejects`):

- `normalize`: mojibake repaired (ftfy), Unicode NFC, control characters removed, whitespace tidied.
- `repeated`: the key of a line, and a document's lines dropped when its collection repeats them.
- `markup`: Markdown and stray HTML stripped, keeping the words they wrap; the regexes that could
  read a text once per opening mark are applied by linear-time scanners (`strip_elements`, ...).
- `header`: the article header a document starts with: a title line and a byline (author, date,
  read by `tasks.dates`).
- `boilerplate`: pattern boilerplate: the built-in patterns, compiled once, short lines dropped.
- `paragraphs`: paragraphs broken in the middle of a sentence joined again.
- `document`: `clean_text`, one document through every step in order, and the op names recorded.
- `stage`: the stage over whole batches: repeated lines learned per collection (`line_profile`,
  `boilerplate_lines`), `clean_batch`, and the schemas of their tables.
"""
