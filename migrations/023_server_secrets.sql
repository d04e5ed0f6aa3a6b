-- Secrets this server keeps across restarts (src/server/server-secret.ts):
-- e.g. the key that derives stable fake SCRAM parameters for unknown users.
CREATE TABLE server_secrets (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
