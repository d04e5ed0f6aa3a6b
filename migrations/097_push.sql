-- Projection: XEP-0357 push registrations, folded from the push:<jid> streams
-- (PushEnabled, PushDisabled; src/modules/push/index.ts). One row per device's
-- registration at an app server's node.
CREATE TABLE push_registrations (
  account    TEXT NOT NULL,
  service    TEXT NOT NULL,
  node       TEXT NOT NULL,
  options    TEXT NOT NULL,
  resource   TEXT NOT NULL,
  enabled_at TEXT NOT NULL,
  PRIMARY KEY (account, service, node)
) WITHOUT ROWID;
