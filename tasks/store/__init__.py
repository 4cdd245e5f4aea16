"""The output folder: staged writes, one commit per run (runs row last), lock, recovery and reads.

Modules, lowest first (each imports only those above it):

- `layout`: the layout of an output folder and the names its modules share (control folder,
  committed datasets, commit journals, runs files).
- `space`: a full disk: `space_for` turns ENOSPC/EDQUOT into a DiskFullError saying where, what is
  free and what a run needs.
- `files`: writing files: the one atomic write (`replacing`, `write_atomically`), the datasets'
  Parquet files and staged parts, run columns (`stamp_run`) and staging a batch in buckets.
- `output`: the output folder (`Output`): local or fsspec, where its lock and staging live, what
  readers see (rows of completed runs), publishing files into it, its commit journals.
- `lock`: the run lock (`RunLock`, `locked`): one run at a time per output.
- `commit`: staging and commit (`Staging`), recovery of killed runs (`recover`), runs rows written
  straight into the output (`write_runs_row`, `record_failed_run`).
- `committed`: what earlier runs committed (`CommittedIndex`).
"""
