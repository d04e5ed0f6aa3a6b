-- XEP-0012: when each user's last available resource went away, and its
-- status text. Not an event projection: it changes at every logout, and
-- losing it loses nothing a user relies on.
CREATE TABLE last_activity (
  account TEXT PRIMARY KEY,
  at      TEXT NOT NULL,
  status  TEXT
);
