-- Deleted accounts (src/modules/tombstones): kept apart from everything an
-- account's deletion removes, since remembering the deletion is the point.
CREATE TABLE tombstones (
  account    TEXT PRIMARY KEY,
  deleted_at TEXT NOT NULL
);
