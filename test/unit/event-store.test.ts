// The event store: migrations on an empty database, appends with global and
// per-stream order, optimistic concurrency, all-or-nothing projections,
// upcasting, durability settings, and a rebuild equal to the live tables.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { EventStore, ConcurrencyError, type Projection } from "../../src/events/store.js";
import { migrate, migrationsDir, MigrationError } from "../../src/events/migrations.js";
import { registerStandardProjections, snapshotTables, checksumProjection } from "../../src/projections/index.js";
import { registerAccount, changePassword, deleteAccount } from "../../src/accounts/account-service.js";
import { accountStreamId, type NewEvent } from "../../src/events/types.js";

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-store-"));
  dirs.push(dir);
  return path.join(dir, "test.sqlite");
}
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const meta = { by: { kind: "admin" as const, tool: "test" }, at: "2026-11-24T12:00:00.000Z" };
const ev = (type: string, payload: unknown): NewEvent => ({ type, payload, meta });

test("migrations apply to an empty database once, recorded in schema_migrations", () => {
  const db = new Database(":memory:");
  const applied = migrate(db);
  const files = readdirSync(migrationsDir()).filter((f) => f.endsWith(".sql"));
  assert.is(applied.length, files.length);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  for (const t of ["events", "accounts", "account_credentials", "offline_messages", "roster_items", "roster_pending_in", "roster_versions", "blocklist", "schema_migrations"]) {
    assert.ok(tables.includes(t), `table ${t}`);
  }
  assert.is((db.prepare("SELECT count(*) AS n FROM schema_migrations").get() as { n: number }).n, files.length);
  assert.equal(migrate(db), [], "a second run applies nothing");
});

test("a failing migration names its file and leaves nothing half-applied", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-mig-"));
  dirs.push(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "001_ok.sql"), "CREATE TABLE a (x INTEGER);");
  writeFileSync(path.join(dir, "002_broken.sql"), "CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1);");
  const db = new Database(":memory:");
  try {
    migrate(db, dir);
    assert.unreachable("should have failed");
  } catch (err) {
    assert.instance(err, MigrationError);
    assert.match((err as Error).message, /002_broken\.sql/);
  }
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
  assert.ok(tables.includes("a"));
  assert.not.ok(tables.includes("b"), "the broken migration's first statement was rolled back");
  assert.equal((db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version), [1]);
});

test("the store runs in WAL mode with synchronous=FULL", () => {
  const store = EventStore.open(tempFile());
  assert.is(store.db.pragma("journal_mode", { simple: true }), "wal");
  assert.is(store.db.pragma("synchronous", { simple: true }), 2);
  store.close();
});

test("every connection sets synchronous=FULL itself: a reopened WAL database and a read-only one", () => {
  const file = tempFile();
  EventStore.open(file).close();
  // A plain reopen in WAL mode is not trusted to inherit anything.
  const plain = new Database(file);
  plain.pragma("synchronous = NORMAL");
  plain.close();
  const again = EventStore.open(file);
  assert.is(again.db.pragma("synchronous", { simple: true }), 2);
  const readonly = EventStore.open(file, { readonly: true });
  assert.is(readonly.db.pragma("synchronous", { simple: true }), 2);
  readonly.close();
  again.close();
  assert.throws(() => EventStore.open(path.join(path.dirname(file), "missing.sqlite"), { readonly: true }), /cannot open the event store .*missing\.sqlite \(read-only\)/);
});

test("appends get a global sequence and per-stream versions, and read back as written", () => {
  const store = EventStore.open(tempFile());
  const a1 = store.append("s:a", 0, [ev("One", { n: 1 }), ev("Two", { n: 2 })]);
  const b1 = store.append("s:b", 0, [ev("One", { n: 3 })]);
  const a2 = store.append("s:a", 2, [ev("Three", { n: 4 })]);
  assert.equal([...a1, ...b1, ...a2].map((e) => [e.seq, e.streamId, e.streamVersion]), [[1, "s:a", 1], [2, "s:a", 2], [3, "s:b", 1], [4, "s:a", 3]]);
  assert.equal(store.readStream("s:a").map((e) => e.payload), [{ n: 1 }, { n: 2 }, { n: 4 }]);
  assert.equal(store.readStream("s:a", 2).map((e) => e.type), ["Three"]);
  assert.equal([...store.readAll({ afterSeq: 1, untilSeq: 3 })].map((e) => e.seq), [2, 3]);
  assert.equal([...store.readAll({ streamId: "s:b" })].map((e) => e.seq), [3]);
  const read = store.readStream("s:b")[0];
  assert.equal(read?.meta, meta);
  assert.match(read?.recordedAt ?? "", /^\d{4}-\d\d-\d\dT/);
  assert.is(store.streamVersion("s:a"), 3);
  assert.is(store.lastSeq(), 4);
  store.close();
});

test("a stale expected version is a ConcurrencyError and writes nothing", () => {
  const store = EventStore.open(tempFile());
  store.append("s:a", 0, [ev("One", {})]);
  try {
    store.append("s:a", 0, [ev("Two", {})]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, ConcurrencyError);
    assert.match((err as Error).message, /s:a is at version 1, not 0/);
  }
  assert.is(store.lastSeq(), 1);
  store.close();
});

test("another connection's append since this store's last one is still a ConcurrencyError (the remembered version is only a shortcut)", () => {
  const file = tempFile();
  const server = EventStore.open(file);
  const cli = EventStore.open(file);
  server.append("s:a", 0, [ev("One", {})]);
  cli.append("s:a", 1, [ev("Two", {})]);
  assert.throws(() => server.append("s:a", 1, [ev("Three", {})]), (err: unknown) => err instanceof ConcurrencyError && /s:a is at version 2, not 1/.test((err as Error).message));
  assert.equal(server.readStream("s:a").map((e) => e.type), ["One", "Two"]);
  server.append("s:a", 2, [ev("Three", {})]);
  assert.is(cli.streamVersion("s:a"), 3);
  cli.close();
  server.close();
});

test("an append rolled back with its caller's transaction leaves no gap: the version it reached is not trusted", () => {
  const store = EventStore.open(tempFile());
  store.append("s:a", 0, [ev("One", {})]);
  assert.throws(() => store.db.transaction(() => {
    store.append("s:a", 1, [ev("Two", {})]);
    throw new Error("the caller's batch failed");
  })(), /batch failed/);
  assert.is(store.streamVersion("s:a"), 1);
  // Version 2 was never stored: appending after it would leave a hole in the stream.
  assert.throws(() => store.append("s:a", 2, [ev("Three", {})]), (err: unknown) => err instanceof ConcurrencyError && /at version 1, not 2/.test((err as Error).message));
  store.append("s:a", 1, [ev("Two again", {})]);
  assert.equal(store.readStream("s:a").map((e) => e.streamVersion), [1, 2]);
  store.close();
});

test("a projection that fails rolls the whole append back; listeners hear only of commits", () => {
  const store = EventStore.open(tempFile());
  const heard: number[] = [];
  store.onAppended((events) => heard.push(...events.map((e) => e.seq)));
  const failing: Projection = {
    name: "failing", tables: [],
    apply: (_db, e) => { if (e.type === "Poison") throw new Error("projection failed"); },
    reset: () => {},
  };
  store.registerProjection(failing);
  store.append("s:a", 0, [ev("Fine", {})]);
  assert.throws(() => store.append("s:a", 1, [ev("Fine", {}), ev("Poison", {})]), /projection failed/);
  assert.is(store.lastSeq(), 1, "neither event of the failed append was stored");
  assert.equal(heard, [1]);
  store.close();
});

test("an event stored in an old schema version is upcast when read", () => {
  const store = EventStore.open(tempFile());
  store.db.prepare(`INSERT INTO events (stream_id, stream_version, type, schema_version, payload, meta, recorded_at)
    VALUES ('s:a', 1, 'Renamed', 1, '{"fullName":"Romeo Montague"}', ?, '2026-01-01T00:00:00.000Z')`).run(JSON.stringify(meta));
  store.registerUpcaster("Renamed", 1, (p) => {
    const [given, family] = String((p as { fullName: string }).fullName).split(" ");
    return { given, family };
  });
  const [e] = store.readStream("s:a");
  assert.equal(e?.payload, { given: "Romeo", family: "Montague" });
  assert.is(e?.schemaVersion, 2);
  store.close();
});

test("data survive closing and reopening the file", () => {
  const file = tempFile();
  const first = EventStore.open(file);
  first.append("s:a", 0, [ev("One", { kept: true })]);
  first.close();
  const second = EventStore.open(file);
  assert.equal(second.readStream("s:a")[0]?.payload, { kept: true });
  second.close();
});

test("after accounts and roster events, a rebuild gives exactly the live projection tables", () => {
  const store = EventStore.open(tempFile());
  registerStandardProjections(store);
  const by = { kind: "admin" as const, tool: "test" };
  registerAccount(store, "romeo@localhost", "pw", by, 1000);
  registerAccount(store, "juliet@localhost", "pw", by, 1000);
  const user = { by: { kind: "user" as const, resource: "r" }, at: meta.at };
  store.append(accountStreamId("romeo@localhost"), 1, [
    { type: "RosterItemSet", payload: { jid: "nurse@localhost", name: "Nurse", groups: ["Household"] }, meta: user },
    { type: "SubscriptionRequested", payload: { jid: "juliet@localhost" }, meta: user },
    { type: "SubscriptionRequestReceived", payload: { jid: "tybalt@localhost", stanza: "<presence type='subscribe'/>" }, meta: user },
    { type: "SubscriptionGranted", payload: { jid: "juliet@localhost" }, meta: user },
    { type: "ContactsBlocked", payload: { jids: ["tybalt@localhost", "capulet.example"] }, meta: user },
    { type: "ContactsUnblocked", payload: { jids: ["capulet.example"] }, meta: user },
  ]);
  changePassword(store, "romeo@localhost", "new", by, 1000);
  deleteAccount(store, "juliet@localhost", by);
  const tables = store.projectionsRegistered().flatMap((p) => p.tables);
  const live = snapshotTables(store.db, tables);
  const sums = store.projectionsRegistered().map((p) => checksumProjection(store.db, p));
  assert.equal(live.roster_items?.length, 2);
  assert.equal(live.blocklist, [{ account: "romeo@localhost", jid: "tybalt@localhost" }]);
  assert.equal(live.roster_pending_in, [], "blocking tybalt dropped his pending request");
  assert.equal(live.accounts?.length, 1, "juliet's account was deleted");
  store.rebuildProjections();
  assert.equal(snapshotTables(store.db, tables), live);
  assert.equal(store.projectionsRegistered().map((p) => checksumProjection(store.db, p)), sums);
  store.close();
});

test.run();
