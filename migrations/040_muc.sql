-- Multi-user chat (src/modules/muc): which rooms exist, a projection of the
-- rooms' streams (room:<jid>), for the service's disco#items and the
-- rooms-per-user limit. Rebuilt from the log like every projection.
CREATE TABLE muc_rooms (
  room       TEXT PRIMARY KEY,
  creator    TEXT NOT NULL,
  persistent INTEGER NOT NULL,
  public     INTEGER NOT NULL,
  name       TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX muc_rooms_creator ON muc_rooms (creator);

-- Who is affiliated with which room: what an account's deletion must remove
-- (a new owner of the name must not inherit a room or a ban).
CREATE TABLE muc_affiliations (
  room        TEXT NOT NULL,
  jid         TEXT NOT NULL,
  affiliation TEXT NOT NULL,
  PRIMARY KEY (room, jid)
);
CREATE INDEX muc_affiliations_jid ON muc_affiliations (jid);
