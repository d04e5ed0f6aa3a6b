-- Snapshots of each account stream's folded roster state (roster, pending
-- requests, block list, roster version) at a stream version: a cache of the
-- log, written in the transaction of the append that reaches the version, so
-- an account loads from the newest one plus the events after it, and replay
-- --until/--diff start from the nearest one. schema_version is the code's
-- snapshot format (SNAPSHOT_SCHEMA in src/projections/account-snapshots.ts):
-- rows of another format are ignored and rebuilt. max_seq and
-- max_recorded_at bound the events up to stream_version, so a replay to a
-- point (a seq or a time) starts its search for where the point falls in the
-- stream from the newest snapshot wholly before it.
CREATE TABLE account_snapshots (
  stream_id       TEXT    NOT NULL,
  stream_version  INTEGER NOT NULL,
  max_seq         INTEGER NOT NULL, -- the greatest seq of the events up to stream_version
  max_recorded_at TEXT    NOT NULL, -- the latest recorded_at among them (clocks may step back)
  schema_version  INTEGER NOT NULL,
  state           TEXT    NOT NULL, -- JSON: { version, items, pendingIn, blocked }
  PRIMARY KEY (stream_id, stream_version)
);
-- A rowid table, not WITHOUT ROWID: its rows are large (a roster of 1,000
-- items is ~120 KB), and in a WITHOUT ROWID table the B-tree's cells carry
-- them, so a seek to any stream's newest snapshot cost ~0.3 ms instead of
-- ~1 µs through the small primary-key index.
