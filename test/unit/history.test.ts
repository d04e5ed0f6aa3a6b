// The index-backed debugging queries (src/replay/history.ts) give the same
// answers as the list-based functions of src/replay/replay.ts over the whole
// stream, at random points (sequence numbers and times), for random
// histories, snapshot intervals and however far behind the log the subject
// index is; the subject index equals its SQL definition, is rebuilt from the
// log of an older database (whose copy migration 098 drops), and is made a
// prefix of the log again when the log lost a tail or is another log; a
// streamed import is in order and all or nothing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { EventStore } from "../../src/events/store.js";
import { migrate, migrationsDir } from "../../src/events/migrations.js";
import { accountStreamId, type StoredEvent } from "../../src/events/types.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import { subjectsOf } from "../../src/projections/event-subjects.js";
import { accountSnapshots } from "../../src/projections/account-snapshots.js";
import { openExisting } from "../../src/cli/debug.js";
import { accountStateAt, diffAccountStates, explainAccountContact } from "../../src/replay/history.js";
import { replayTo, diffStates, explainContact, type LogPoint } from "../../src/replay/replay.js";
import { describeRoster } from "../../src/replay/describe.js";
import { verifySubjects } from "../../src/replay/verify.js";
import { ROSTER_EVENT_TYPES } from "../../src/roster/roster-types.js";
import { historyOf, stepArbitrary, type Step } from "../property/account-history.js";

const USERS = ["alice@localhost", "bob@localhost", "carol@localhost"];
const settings: fc.Parameters<[Step[], number, number[], number]> = { numRuns: 80, seed: 7395 };

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/**
 * A store holding a random history. recorded_at is rewritten to the events'
 * meta.at, so time points are deterministic (with `clockStepsBack`, every
 * fifth event is recorded 3 ms earlier than the one before it), and the
 * snapshots rebuilt to match.
 */
function storeWith(steps: readonly Step[], every: number, clockStepsBack = false): EventStore {
  const store = EventStore.open(":memory:");
  registerStandardProjections(store, [], { snapshotEvery: every });
  const versions = new Map<string, number>();
  for (const a of historyOf(USERS, steps)) {
    const stored = store.append(accountStreamId(a.user), versions.get(a.user) ?? 0, a.events);
    versions.set(a.user, stored[stored.length - 1]?.streamVersion ?? 0);
  }
  store.db.exec("UPDATE events SET recorded_at = json_extract(meta, '$.at')");
  if (clockStepsBack) {
    store.db.exec(`UPDATE events SET recorded_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(recorded_at) - 0.003 / 86400.0) WHERE seq % 5 = 0`);
  }
  store.rebuildProjections();
  return store;
}

const seqsOf = (events: readonly StoredEvent[]) => events.map((e) => e.seq);

test("replay --until, --diff and --explain through snapshots and indexes = the same over the whole stream, however far the subject index has got", () => {
  fc.assert(fc.property(
    fc.array(stepArbitrary(USERS.length), { minLength: 10, maxLength: 50 }),
    fc.integer({ min: 1, max: 6 }),
    fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 4, maxLength: 4 }),
    fc.integer({ min: 0, max: 200 }),
    (steps, every, raw, indexed) => {
      const store = storeWith(steps, every);
      try {
        const last = store.lastSeq();
        // The index behind the log, as in a server whose indexing thread has not caught up: queries read the rest from the log.
        store.subjects.reset();
        store.subjects.catchUp(store.db, indexed % (last + 2));
        assert.is(store.subjects.through, Math.min(indexed % (last + 2), last));
        const all = [...store.readAll()];
        const points: LogPoint[] = [
          ...raw.map((r) => ({ seq: r % (last + 2) })),
          ...raw.map((r) => ({ time: all[r % all.length]?.recordedAt ?? "" })),
        ];
        for (const u of USERS) {
          const events = store.readStream(accountStreamId(u));
          for (const p of points) {
            const want = replayTo(events, p);
            const got = accountStateAt(store, u, p);
            assert.equal(describeRoster(got.state), describeRoster(want.state), `${u} until ${JSON.stringify(p)}`);
            assert.is(got.state.version, want.state.version);
            assert.is(got.last?.seq, want.last?.seq);
          }
          for (let i = 0; i + 1 < points.length; i++) {
            const a = points[i] as LogPoint;
            const b = points[i + 1] as LogPoint;
            const want = diffStates(events, a, b);
            const got = diffAccountStates(store, u, a, b);
            assert.equal(got.changes.map((c) => ({ ...c, because: seqsOf(c.because) })), want.changes.map((c) => ({ ...c, because: seqsOf(c.because) })), `${u} diff ${JSON.stringify(a)} ${JSON.stringify(b)}`);
            assert.equal(got.blockedBefore, want.blockedBefore);
            assert.equal(got.blockedAfter, want.blockedAfter);
          }
          for (const contact of [...USERS, "nobody@localhost"]) {
            const want = explainContact(events, contact).map((s) => [s.event.seq, s.state]);
            assert.equal(explainAccountContact(store, u, contact).map((s) => [s.event.seq, s.state]), want, `${u} explain ${contact}`);
          }
        }
      } finally {
        store.close();
      }
    }), settings);
});

test("with a clock that steps back, replay --until TIME stops where a replay of the whole stream stops", () => {
  fc.assert(fc.property(
    fc.array(stepArbitrary(USERS.length), { minLength: 10, maxLength: 50 }),
    fc.integer({ min: 1, max: 4 }),
    fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 6, maxLength: 6 }),
    (steps, every, raw) => {
      const store = storeWith(steps, every, true);
      try {
        const all = [...store.readAll()];
        // Histories too short for a step back (fewer than five events) prove nothing here.
        fc.pre(all.some((e, i) => i > 0 && e.recordedAt < (all[i - 1] as StoredEvent).recordedAt));
        for (const u of USERS) {
          const events = store.readStream(accountStreamId(u));
          for (const r of raw) {
            const p = { time: all[r % all.length]?.recordedAt ?? "" };
            const want = replayTo(events, p);
            const got = accountStateAt(store, u, p);
            assert.is(got.last?.seq, want.last?.seq, `${u} until ${p.time}`);
            assert.equal(describeRoster(got.state), describeRoster(want.state));
          }
        }
      } finally {
        store.close();
      }
    }), { numRuns: 60, seed: 3339 });
});

test("every roster event type and AccountDeleted has its subjects; the index equals its SQL definition", () => {
  for (const type of ROSTER_EVENT_TYPES) {
    const payload = type === "AllContactsUnblocked" ? {} : type.startsWith("Contacts") ? { jids: ["a@x", "b@x"] } : { jid: "a@x" };
    const want = type === "AllContactsUnblocked" ? ["*"] : type.startsWith("Contacts") ? ["a@x", "b@x"] : ["a@x"];
    assert.equal(subjectsOf({ type, payload }), want, type);
  }
  assert.equal(subjectsOf({ type: "AccountDeleted", payload: { jid: "me@x" } }), ["*"]);
  assert.equal(subjectsOf({ type: "AccountRegistered", payload: { jid: "me@x" } }), []);
  fc.assert(fc.property(fc.array(stepArbitrary(USERS.length), { minLength: 5, maxLength: 40 }), (steps) => {
    const store = storeWith(steps, 3);
    try {
      const report = verifySubjects(store);
      assert.ok(report.ok, report.differences.join("; "));
      assert.is(report.liveChecksum, report.logChecksum);
    } finally {
      store.close();
    }
  }), { numRuns: 40, seed: 6120 });
});

test("verify notices a tampered subject index", () => {
  const store = storeWith([{ kind: "command", command: { kind: "block", owner: 0, contact: 1 } }], 3);
  try {
    assert.ok(verifySubjects(store).ok);
    store.subjects.db.exec("DELETE FROM event_subjects WHERE (stream_id, jid, seq) IN (SELECT stream_id, jid, seq FROM event_subjects LIMIT 1)");
    const report = verifySubjects(store);
    assert.not.ok(report.ok);
    assert.match(report.differences.join(" "), /1 rows of the log missing/);
  } finally {
    store.close();
  }
});

test("a database with the subject index in it (migrations 007 to 097) gets it rebuilt from the log in its own file; 098 drops the old copy", () => {
  const source = EventStore.open(":memory:");
  registerStandardProjections(source);
  const versions = new Map<string, number>();
  for (const a of historyOf(USERS, [
    { kind: "command", command: { kind: "presence", from: 0, to: 1, type: "subscribe" } },
    { kind: "command", command: { kind: "presence", from: 1, to: 0, type: "subscribed" } },
    { kind: "command", command: { kind: "block", owner: 0, contact: 2 } },
    { kind: "command", command: { kind: "unblock", owner: 0, contact: "all" } },
    { kind: "delete", user: 1 },
  ])) {
    const stored = source.append(accountStreamId(a.user), versions.get(a.user) ?? 0, a.events);
    versions.set(a.user, stored[stored.length - 1]?.streamVersion ?? 0);
  }
  // A database at migration 097, with the same events in it: migration 007 filled its event_subjects.
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-mig97-"));
  dirs.push(dir);
  const upTo = (n: number): string => {
    const d = path.join(dir, `migrations-${n}`);
    mkdirSync(d);
    for (const f of readdirSync(migrationsDir()).filter((f) => Number.parseInt(f, 10) <= n)) copyFileSync(path.join(migrationsDir(), f), path.join(d, f));
    return d;
  };
  const file = path.join(dir, "parley.sqlite");
  const db = new Database(file);
  migrate(db, upTo(6));
  const insert = db.prepare("INSERT INTO events (seq, stream_id, stream_version, type, schema_version, payload, meta, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (const e of source.readAll()) insert.run(e.seq, e.streamId, e.streamVersion, e.type, e.schemaVersion, JSON.stringify(e.payload), JSON.stringify(e.meta), e.recordedAt);
  assert.ok(migrate(db, upTo(97)).some((m) => m.name === "007_event_subjects.sql"));
  const old = db.prepare("SELECT stream_id, jid, seq FROM event_subjects ORDER BY 1, 2, 3").all();
  assert.ok(old.length > 5);
  db.close();
  const store = EventStore.open(file);
  try {
    const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    assert.not.ok(tables.includes("event_subjects"), "098 dropped the copy inside the log's database");
    const alice = accountStreamId(USERS[0] as string);
    const before = store.subjectSeqs(alice, [USERS[2] as string, "*"]);
    assert.ok(before.length >= 2, "answered from the log before anything is indexed");
    assert.is(store.indexSubjects(), store.lastSeq());
    assert.equal(store.subjects.db.prepare("SELECT stream_id, jid, seq FROM event_subjects ORDER BY 1, 2, 3").all(), old);
    assert.equal(store.subjectSeqs(alice, [USERS[2] as string, "*"]), before);
    assert.ok(verifySubjects(store).ok);
  } finally {
    store.close();
    source.close();
  }
});

test("opened for writing, a log makes its subject index a prefix of it again: a lost tail is trimmed, another log's index starts over", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-reconcile-"));
  dirs.push(dir);
  const file = path.join(dir, "parley.sqlite");
  const store = EventStore.open(file);
  registerStandardProjections(store);
  let version = 0;
  for (let i = 0; i < 6; i++) {
    version = (store.append("account:a@x", version, [{ type: "ContactsBlocked", payload: { jids: [`c${i}@x`] }, meta: { by: { kind: "user", resource: "r" }, at: "2026-12-03T12:00:00.000Z" } }]).at(-1) as StoredEvent).streamVersion;
  }
  assert.is(store.indexSubjects(), 6);
  store.close();
  // A power loss took the log's last two transactions, not the index's: the index is ahead.
  const raw = new Database(file);
  raw.exec("DELETE FROM events WHERE seq > 4");
  raw.close();
  const again = EventStore.open(file);
  try {
    assert.is(again.subjects.through, 4);
    assert.equal(again.subjects.db.prepare("SELECT seq FROM event_subjects ORDER BY seq").all().map((r) => (r as { seq: number }).seq), [1, 2, 3, 4]);
    assert.ok(verifySubjects(again).ok);
  } finally {
    again.close();
  }
  // Another log under the same name (a copy put back): the event the mark names differs, so the index starts over.
  const other = new Database(file);
  other.exec("UPDATE events SET stream_id = 'account:b@x' WHERE seq = 4");
  other.close();
  const third = EventStore.open(file);
  try {
    assert.is(third.subjects.through, 0);
    assert.equal(third.subjectSeqs("account:b@x", ["c3@x"]), [4], "answered from the log meanwhile");
    third.indexSubjects();
    assert.ok(verifySubjects(third).ok);
    assert.equal(third.subjectSeqs("account:b@x", ["c3@x"]), [4]);
  } finally {
    third.close();
  }
});

test("the snapshot projection reads through the connection its append runs on (it sees that append's uncommitted rows)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-conn-"));
  dirs.push(dir);
  const file = path.join(dir, "t.sqlite");
  const store = EventStore.open(file);
  const other = new Database(file);
  try {
    const snapshots = accountSnapshots(store, 2);
    const insert = other.prepare("INSERT INTO events (seq, stream_id, stream_version, type, schema_version, payload, meta, recorded_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)");
    const meta = { by: { kind: "user", resource: "r" }, at: "2026-11-24T12:00:00.000Z" };
    const events: StoredEvent[] = [
      { seq: 1, streamId: "account:a@x", streamVersion: 1, type: "RosterItemSet", schemaVersion: 1, payload: { jid: "b@x", groups: [] }, meta: meta as StoredEvent["meta"], recordedAt: meta.at },
      { seq: 2, streamId: "account:a@x", streamVersion: 2, type: "ContactsBlocked", schemaVersion: 1, payload: { jids: ["c@x"] }, meta: meta as StoredEvent["meta"], recordedAt: meta.at },
    ];
    other.exec("BEGIN IMMEDIATE");
    for (const e of events) {
      insert.run(e.seq, e.streamId, e.streamVersion, e.type, JSON.stringify(e.payload), JSON.stringify(e.meta), e.recordedAt);
      snapshots.apply(other, e);
    }
    const row = other.prepare("SELECT stream_version, state FROM account_snapshots").get() as { stream_version: number; state: string };
    other.exec("COMMIT");
    assert.is(row.stream_version, 2);
    assert.equal(JSON.parse(row.state).blocked, ["c@x"]);
  } finally {
    other.close();
    store.close();
  }
});

test("on a database from before the history tables, the read-only commands say how to migrate it; a writing open migrates it", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-old-"));
  dirs.push(dir);
  const upTo5 = mkdtempSync(path.join(os.tmpdir(), "parley-mig5-"));
  dirs.push(upTo5);
  for (const f of readdirSync(migrationsDir()).filter((f) => Number.parseInt(f, 10) <= 5)) copyFileSync(path.join(migrationsDir(), f), path.join(upTo5, f));
  const db = new Database(path.join(dir, "parley.sqlite"));
  migrate(db, upTo5);
  db.close();
  assert.throws(() => openExisting(dir, true), /predates the account_snapshots table\(s\): start the server on it or run 'parley rebuild'/);
  openExisting(dir, false).close();
  openExisting(dir, true).close();
});

function exported(): StoredEvent[] {
  const store = storeWith([
    { kind: "command", command: { kind: "rosterSet", owner: 0, contact: 1, name: "A" } },
    { kind: "command", command: { kind: "block", owner: 0, contact: 2 } },
    { kind: "command", command: { kind: "presence", from: 1, to: 0, type: "subscribe" } },
  ], 2);
  try {
    return [...store.readAll()];
  } finally {
    store.close();
  }
}

test("a streamed import in small batches gives the same tables as appends; a bad event undoes it all", () => {
  const events = exported();
  const target = EventStore.open(":memory:");
  registerStandardProjections(target, [], { snapshotEvery: 2 });
  const run = target.startImport(2);
  for (const e of events.slice(0, 5)) run.add(e);
  assert.ok(target.lastSeq() >= 4, "earlier batches are committed as the import goes");
  try {
    run.add(events[1] as StoredEvent);
    assert.unreachable("an event out of order must be refused");
  } catch (err) {
    assert.match((err as Error).message, /#2 comes after #5: an import must be in sequence order/);
  }
  run.abort();
  assert.is(target.lastSeq(), 0, "nothing of the failed import is left");
  for (const t of ["roster_items", "account_snapshots", "accounts"]) {
    assert.is((target.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n, 0, t);
  }
  assert.is((target.subjects.db.prepare("SELECT count(*) AS n FROM event_subjects").get() as { n: number }).n, 0, "event_subjects");
  assert.is(target.importEvents(events), events.length);
  const reference = storeWith([
    { kind: "command", command: { kind: "rosterSet", owner: 0, contact: 1, name: "A" } },
    { kind: "command", command: { kind: "block", owner: 0, contact: 2 } },
    { kind: "command", command: { kind: "presence", from: 1, to: 0, type: "subscribe" } },
  ], 2);
  try {
    for (const t of ["roster_items", "roster_pending_in", "roster_versions", "blocklist", "accounts"]) {
      const q = `SELECT * FROM ${t} ORDER BY 1, 2`;
      assert.equal(target.db.prepare(q).all(), reference.db.prepare(q).all(), t);
    }
    const subjects = "SELECT stream_id, jid, seq FROM event_subjects ORDER BY 1, 2, 3";
    assert.is(target.subjects.through, target.lastSeq(), "the import indexed everything it wrote");
    assert.equal(target.subjects.db.prepare(subjects).all(), reference.subjects.db.prepare(subjects).all(), "event_subjects");
    // The reference's times were rewritten after its appends: compare the snapshots' states.
    const q = "SELECT stream_id, stream_version, max_seq, state FROM account_snapshots ORDER BY 1, 2";
    assert.equal(target.db.prepare(q).all(), reference.db.prepare(q).all());
    assert.throws(() => target.startImport(), /already has events/);
  } finally {
    reference.close();
    target.close();
  }
});

test.run();
