-- Offline messages remember who sent them and their size, so that one sender
-- cannot fill a recipient's storage (a per-sender count and a per-account
-- byte cap), and messages from a since-blocked sender can be dropped.
ALTER TABLE offline_messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE offline_messages ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX offline_messages_sender ON offline_messages (account, sender);
