-- Snapshots of each account stream's folded roster state (roster, pending
-- requests, block list, roster version) at a stream version: a cache of the
-- log, written in the transaction of the append that reaches the version, so
-- an account loads from the newest one plus the events after it, and replay
-- --until/--diff start from the nearest one. schema_version is the code's
-- snapshot format (SNAPSHOT_SCHEMA in src/projections/account-snapshots.ts):
-- rows of another format are ignored and rebuilt.
CREATE TABLE account_snapshots (
  stream_id      TEXT    NOT NULL,
  stream_version INTEGER NOT NULL,
  seq            INTEGER NOT NULL, -- of the event at stream_version
  recorded_at    TEXT    NOT NULL, -- of that event
  schema_version INTEGER NOT NULL,
  state          TEXT    NOT NULL, -- JSON: { version, items, pendingIn, blocked }
  PRIMARY KEY (stream_id, stream_version)
) WITHOUT ROWID;
