-- An index of the log by contact: which events of an account stream are
-- about which JID, so `replay --explain` and `--diff` read only those events.
-- jid '*' marks events that touch every contact: AllContactsUnblocked and
-- AccountDeleted. Filled by a trigger, so every writer (server, CLI, import)
-- keeps it without knowing of it; the type lists mirror RosterEvent
-- (src/roster/roster-types.ts), and test/unit/event-subjects.test.ts checks
-- every event type against it. `parley rebuild` refills it, `verify` checks it.
CREATE TABLE event_subjects (
  stream_id TEXT    NOT NULL,
  jid       TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  PRIMARY KEY (stream_id, jid, seq)
) WITHOUT ROWID;

CREATE TRIGGER events_subjects AFTER INSERT ON events
WHEN NEW.type IN ('RosterItemSet', 'RosterItemRemoved', 'SubscriptionRequested', 'SubscriptionRequestReceived',
  'ContactApproved', 'ContactPreApproved', 'SubscriptionGranted', 'ContactSubscriptionCancelled',
  'SubscriptionCancelled', 'ContactsBlocked', 'ContactsUnblocked', 'AllContactsUnblocked', 'AccountDeleted')
BEGIN
  INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
    SELECT NEW.stream_id, json_extract(NEW.payload, '$.jid'), NEW.seq
    WHERE NEW.type NOT IN ('ContactsBlocked', 'ContactsUnblocked', 'AllContactsUnblocked', 'AccountDeleted');
  INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
    SELECT NEW.stream_id, j.value, NEW.seq FROM json_each(NEW.payload, '$.jids') AS j
    WHERE NEW.type IN ('ContactsBlocked', 'ContactsUnblocked');
  INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
    SELECT NEW.stream_id, '*', NEW.seq
    WHERE NEW.type IN ('AllContactsUnblocked', 'AccountDeleted');
END;

-- The events already in the log (the same rules as the trigger).
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT stream_id, json_extract(payload, '$.jid'), seq FROM events
  WHERE type IN ('RosterItemSet', 'RosterItemRemoved', 'SubscriptionRequested', 'SubscriptionRequestReceived',
    'ContactApproved', 'ContactPreApproved', 'SubscriptionGranted', 'ContactSubscriptionCancelled', 'SubscriptionCancelled');
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT e.stream_id, j.value, e.seq FROM events AS e, json_each(e.payload, '$.jids') AS j
  WHERE e.type IN ('ContactsBlocked', 'ContactsUnblocked');
INSERT OR IGNORE INTO event_subjects (stream_id, jid, seq)
  SELECT stream_id, '*', seq FROM events WHERE type IN ('AllContactsUnblocked', 'AccountDeleted');
