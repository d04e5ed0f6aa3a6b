-- XEP-0160 offline storage. Not an event projection: messages are delivered
-- once and deleted.
CREATE TABLE offline_messages (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  account   TEXT NOT NULL,
  stanza    TEXT NOT NULL,
  stored_at TEXT NOT NULL
);
CREATE INDEX offline_messages_account ON offline_messages (account, id);
