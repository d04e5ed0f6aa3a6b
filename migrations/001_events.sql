-- The append-only event log: the only durable truth about accounts, rosters
-- and block lists. Global order is seq; per-stream order is stream_version,
-- and UNIQUE(stream_id, stream_version) is the optimistic concurrency check.
CREATE TABLE events (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id      TEXT    NOT NULL,
  stream_version INTEGER NOT NULL,
  type           TEXT    NOT NULL,
  schema_version INTEGER NOT NULL DEFAULT 1,
  payload        TEXT    NOT NULL,
  meta           TEXT    NOT NULL,
  recorded_at    TEXT    NOT NULL,
  UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_type ON events (type);
