-- XEP-0484 FAST tokens (src/sasl/fast-tokens.ts): module storage, not events.
-- A token is a secret that rotates at every few logins; in the log it would be
-- replayed forever and every rebuild would resurrect revoked secrets. One row
-- per account, user agent (XEP-0388 <user-agent id>) and slot: 'current' (in
-- use) and 'next' (issued by a rotation, promoted when first used).
CREATE TABLE fast_tokens (
  account     TEXT NOT NULL,
  user_agent  TEXT NOT NULL,
  slot        TEXT NOT NULL CHECK (slot IN ('current', 'next')),
  mechanism   TEXT NOT NULL,
  token       TEXT NOT NULL,
  issued_at   TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  PRIMARY KEY (account, user_agent, slot)
);
CREATE INDEX fast_tokens_by_issue ON fast_tokens (account, issued_at);
