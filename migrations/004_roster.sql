-- Projections of the roster and blocking events of each account stream.
CREATE TABLE roster_items (
  account      TEXT    NOT NULL,
  jid          TEXT    NOT NULL,
  name         TEXT,
  groups       TEXT    NOT NULL, -- JSON array
  subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
  ask          INTEGER NOT NULL,
  approved     INTEGER NOT NULL,
  PRIMARY KEY (account, jid)
);
CREATE TABLE roster_pending_in (
  account TEXT NOT NULL,
  jid     TEXT NOT NULL,
  stanza  TEXT NOT NULL,
  PRIMARY KEY (account, jid)
);
CREATE TABLE roster_versions (
  account TEXT PRIMARY KEY,
  version INTEGER NOT NULL
);
CREATE TABLE blocklist (
  account TEXT NOT NULL,
  jid     TEXT NOT NULL,
  PRIMARY KEY (account, jid)
);
