-- An index of the log by contact: which events of an account stream are
-- about which JID, so `replay --explain` and `--diff` read only those events.
-- jid '*' marks events that touch every contact: AllContactsUnblocked and
-- AccountDeleted. Kept by the subjects projection
-- (src/projections/event-subjects.ts); `parley rebuild` refills it and
-- `verify` checks it against the log.
CREATE TABLE event_subjects (
  stream_id TEXT    NOT NULL,
  jid       TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (stream_id, jid, seq)
) WITHOUT ROWID;

-- The events already in the log (SUBJECTS_OF_EVENTS in src/events/store.ts).
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT stream_id, json_extract(payload, '$.jid'), seq FROM events
  WHERE type IN ('RosterItemSet', 'RosterItemRemoved', 'SubscriptionRequested', 'SubscriptionRequestReceived',
    'ContactApproved', 'ContactPreApproved', 'SubscriptionGranted', 'ContactSubscriptionCancelled', 'SubscriptionCancelled');
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT e.stream_id, j.value, e.seq FROM events AS e, json_each(e.payload, '$.jids') AS j
  WHERE e.type IN ('ContactsBlocked', 'ContactsUnblocked');
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT stream_id, '*', seq FROM events WHERE type IN ('AllContactsUnblocked', 'AccountDeleted');
