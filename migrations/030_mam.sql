-- XEP-0313 message archives of accounts (src/modules/mam). Not an event
-- projection: messages are not account state, the log does not hold them,
-- and they come and go by retention. One row per message per archive owner
-- (the sender's archive and the recipient's each keep one copy).
--
-- Archive order is `seq` (insertion order, XEP-0313 §3.1); stamps are kept
-- non-decreasing along it across all archives, so a time bound (`start`,
-- `end`) is found as a seq bound through mam_archive_stamp, and every query
-- is a range scan on (owner, seq) or (owner, with_jid, seq). Each index is
-- paid on every archived message: there is none more than the queries use.
-- The archive ids given out (XEP-0359 stanza-ids) are not stored: each is its
-- row's seq encrypted with a key of this server (src/modules/mam/archive-ids.ts),
-- so an id leads to its row by the primary key, with no index of random ids
-- (whose scattered inserts dirtied a page per message), and tells nothing of
-- how many messages the server holds.
CREATE TABLE mam_archive (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  owner         TEXT NOT NULL,                     -- the archive's bare JID
  with_jid      TEXT NOT NULL,                     -- the other party's bare JID
  with_resource TEXT NOT NULL DEFAULT '',          -- and its resource, if it had one
  stamp         INTEGER NOT NULL,                  -- when archived: ms since the epoch, a whole second
  direction     TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  stanza        TEXT NOT NULL,                     -- the message, serialised (jabber:client)
  origin_id     TEXT                               -- XEP-0359 origin-id, when the sender gave one
);
CREATE INDEX mam_archive_owner_seq ON mam_archive (owner, seq);
CREATE INDEX mam_archive_owner_with ON mam_archive (owner, with_jid, seq);
CREATE INDEX mam_archive_stamp ON mam_archive (stamp); -- time bounds, the retention sweep

-- Full-text search ({urn:xmpp:fulltext:0}fulltext) over message bodies:
-- FTS5, which better-sqlite3's bundled SQLite is built with. Contentless (the
-- body is in the stanza already); rows share mam_archive's seq as rowid and
-- go with it.
CREATE VIRTUAL TABLE mam_fulltext USING fts5 (body, content = '', contentless_delete = 1);
CREATE TRIGGER mam_archive_fulltext_delete AFTER DELETE ON mam_archive BEGIN
  DELETE FROM mam_fulltext WHERE rowid = old.seq;
END;
