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
