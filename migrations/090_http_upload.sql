-- XEP-0363 HTTP File Upload (src/modules/http-upload): one row per slot
-- handed out. Not event-sourced: files come and go by expiry and are not
-- account state. The file itself is <data>/uploads/<id>, present once
-- uploaded_at is set; a slot never used is forgotten after expires_at.
CREATE TABLE upload_slots (
  id           TEXT PRIMARY KEY,        -- random, the URL's secret part
  owner        TEXT NOT NULL,           -- the requester's bare JID
  filename     TEXT NOT NULL,
  size         INTEGER NOT NULL,        -- bytes, exactly what the PUT must carry
  content_type TEXT NOT NULL,
  created_at   INTEGER NOT NULL,        -- ms since the epoch
  expires_at   INTEGER NOT NULL,        -- ms: the PUT must start before
  uploaded_at  INTEGER                  -- ms: when the PUT completed
);
CREATE INDEX upload_slots_owner ON upload_slots (owner, created_at);
CREATE INDEX upload_slots_created ON upload_slots (created_at);
