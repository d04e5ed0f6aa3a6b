-- Key-value storage that feature modules own (src/kernel/module-store.ts),
-- per account; not an event projection. The kernel empties an account's rows
-- when the account is deleted.
CREATE TABLE module_store (
  module  TEXT NOT NULL,
  account TEXT NOT NULL,
  key     TEXT NOT NULL,
  value   TEXT NOT NULL, -- JSON
  PRIMARY KEY (module, account, key)
);
-- How far the server has carried out the consequences of events that live
-- outside the log (removing a deleted account's storage): the seq of the last
-- event handled, so a deletion made while the server was down is handled at
-- the next start.
CREATE TABLE kernel_cursors (
  name TEXT PRIMARY KEY,
  seq  INTEGER NOT NULL
);
