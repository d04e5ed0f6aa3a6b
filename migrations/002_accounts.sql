-- Projection: accounts and their SCRAM credentials (never passwords).
CREATE TABLE accounts (
  jid        TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE account_credentials (
  jid        TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
  hash       TEXT    NOT NULL,
  salt       TEXT    NOT NULL,
  iterations INTEGER NOT NULL,
  stored_key TEXT    NOT NULL,
  server_key TEXT    NOT NULL,
  PRIMARY KEY (jid, hash)
);
