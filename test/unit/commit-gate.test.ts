// The commit gate (src/events/commit-gate.ts): a turn's appends commit at the
// end of the turn with synchronous=NORMAL, its output leaves only after an
// fdatasync of the -wal file that began after that COMMIT, at most
// `concurrentSyncs` fdatasyncs are in flight (a commit made while one runs
// starts its own beside it), output leaves in turn order whichever returns
// first, a failed fdatasync is fatal, and shutdown commits and syncs at once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EventStore } from "../../src/events/store.js";
import { CommitGate } from "../../src/events/commit-gate.js";

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

type Done = (err: NodeJS.ErrnoException | null) => void;

/** A gate on a fresh WAL database whose fdatasync calls wait until the test completes them. */
function setup(concurrentSyncs?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-gate-"));
  dirs.push(dir);
  const store = EventStore.open(path.join(dir, "gate.sqlite"));
  store.db.exec("CREATE TABLE t (n INTEGER)");
  const syncs: { fd: number; done: Done }[] = [];
  const fatal: string[] = [];
  const gate = new CommitGate(store.db, { fatal: (message, error) => fatal.push(`${message}: ${error}`) }, {
    fdatasync: (fd, done) => syncs.push({ fd, done }),
    concurrentSyncs,
  });
  store.useCommitGate(gate);
  const insert = store.db.prepare("INSERT INTO t VALUES (?)");
  const write = (n: number) => { gate.beginWrite(); insert.run(n); };
  const synchronous = () => store.db.pragma("synchronous", { simple: true });
  return { dir, store, gate, syncs, fatal, write, synchronous };
}

const endOfTurn = () => new Promise((r) => setImmediate(r));

test("a turn's output leaves after the fdatasync that follows its COMMIT, not at the COMMIT", async () => {
  const { store, gate, syncs, write, synchronous } = setup();
  const released: string[] = [];
  write(1);
  assert.is(synchronous(), 1, "NORMAL inside the gate's transaction: the COMMIT does not fsync");
  gate.hold(() => released.push("result"));
  await endOfTurn();
  assert.not.ok(store.db.inTransaction, "committed at the end of the turn");
  assert.is(synchronous(), 2, "FULL again outside the gate's transaction");
  assert.equal(released, [], "not released before the WAL is synced");
  assert.is(syncs.length, 1);
  assert.is(fs.fstatSync((syncs[0] as { fd: number }).fd).ino, fs.statSync(`${store.db.name}-wal`).ino, "the -wal file is what is synced");
  (syncs[0] as { done: Done }).done(null);
  assert.equal(released, ["result"]);
  gate.flush();
  store.close();
});

test("concurrentSyncs 1: one fdatasync at a time; the next covers every turn committed meanwhile; output leaves in turn order", async () => {
  const { store, gate, syncs, write } = setup(1);
  const released: string[] = [];
  write(1);
  gate.hold(() => released.push("turn 1"));
  await endOfTurn();
  write(2);
  gate.hold(() => released.push("turn 2"));
  await endOfTurn();
  write(3);
  gate.hold(() => released.push("turn 3"));
  await endOfTurn();
  // Appends nothing, but may show what turns 2 and 3 did: it waits for them.
  gate.hold(() => released.push("turn 4, no writes"));
  await endOfTurn();
  assert.is(syncs.length, 1, "no second fdatasync while the first is in flight");
  syncs[0]?.done(null);
  assert.equal(released, ["turn 1"]);
  assert.is(syncs.length, 2, "the next one starts when the first returns");
  syncs[1]?.done(null);
  assert.equal(released, ["turn 1", "turn 2", "turn 3", "turn 4, no writes"]);
  // Nothing pending: output of a turn without writes leaves at the end of the turn, with no fdatasync.
  gate.hold(() => released.push("turn 5"));
  await endOfTurn();
  assert.is(released.at(-1), "turn 5");
  assert.is(syncs.length, 2);
  gate.flush();
  store.close();
});

test("a failed fdatasync is fatal and nothing held is ever released", async () => {
  const { store, gate, syncs, fatal, write } = setup(1);
  const released: string[] = [];
  write(1);
  gate.hold(() => released.push("turn 1"));
  await endOfTurn();
  write(2);
  gate.hold(() => released.push("turn 2"));
  await endOfTurn();
  const err: NodeJS.ErrnoException = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
  syncs[0]?.done(err);
  assert.is(fatal.length, 1);
  assert.match(fatal[0] as string, /could not be made durable.*gate\.sqlite-wal: EIO/);
  gate.hold(() => released.push("later"));
  await endOfTurn();
  assert.equal(released, []);
  assert.is(syncs.length, 1, "no fdatasync after the failure");
  store.close();
});

test("by default a commit made while an fdatasync runs starts a second one beside it: it waits for one sync, not two", async () => {
  const { store, gate, syncs, write } = setup();
  const released: string[] = [];
  write(1);
  gate.hold(() => released.push("turn 1"));
  await endOfTurn();
  write(2);
  gate.hold(() => released.push("turn 2"));
  await endOfTurn();
  assert.is(syncs.length, 2, "turn 2's commit has its own fdatasync at once");
  write(3);
  gate.hold(() => released.push("turn 3"));
  await endOfTurn();
  assert.is(syncs.length, 2, "no more than two in flight");
  // The second returns first: it covers turns 1 and 2 (both COMMITs were written before it began).
  syncs[1]?.done(null);
  assert.equal(released, ["turn 1", "turn 2"]);
  assert.is(syncs.length, 3, "turn 3's starts as soon as one returns");
  // The first returning late changes nothing and releases nothing more.
  syncs[0]?.done(null);
  assert.equal(released, ["turn 1", "turn 2"]);
  syncs[2]?.done(null);
  assert.equal(released, ["turn 1", "turn 2", "turn 3"]);
  gate.flush();
  store.close();
});

test("shutdown: flush() commits, syncs on the spot and releases everything held", async () => {
  const { store, gate, syncs, write, synchronous } = setup();
  const released: string[] = [];
  write(1);
  gate.hold(() => released.push("turn 1"));
  await endOfTurn();
  write(2);
  gate.hold(() => released.push("turn 2"));
  gate.flush();
  assert.equal(released, ["turn 1", "turn 2"]);
  assert.not.ok(store.db.inTransaction);
  assert.is(synchronous(), 2);
  // The fdatasync still in flight from turn 1 returns later and changes nothing.
  syncs[0]?.done(null);
  assert.equal(released, ["turn 1", "turn 2"]);
  store.close();
  const again = EventStore.open(store.db.name);
  assert.is((again.db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 2);
  again.close();
});

test("with the real fdatasync, appends from a caller's own transaction stay FULL and output still leaves", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-gate-"));
  dirs.push(dir);
  const store = EventStore.open(path.join(dir, "real.sqlite"));
  store.db.exec("CREATE TABLE t (n INTEGER)");
  const gate = new CommitGate(store.db, { fatal: (m, e) => assert.unreachable(`${m}: ${e}`) });
  const insert = store.db.prepare("INSERT INTO t VALUES (?)");
  store.db.transaction(() => {
    gate.beginWrite(); // inside the caller's transaction: part of it, committed by it
    insert.run(1);
  })();
  assert.is(store.db.pragma("synchronous", { simple: true }), 2);
  gate.beginWrite();
  insert.run(2);
  const released = new Promise<void>((resolve) => gate.hold(resolve));
  await released;
  gate.flush();
  store.close();
});

test("an in-memory database has nothing to sync: output leaves at the end of the turn", async () => {
  const store = EventStore.open(":memory:");
  store.db.exec("CREATE TABLE t (n INTEGER)");
  let syncs = 0;
  const gate = new CommitGate(store.db, { fatal: (m, e) => assert.unreachable(`${m}: ${e}`) }, { fdatasync: (_fd, done) => { syncs++; done(null); } });
  gate.beginWrite();
  store.db.prepare("INSERT INTO t VALUES (1)").run();
  let released = false;
  gate.hold(() => { released = true; });
  await endOfTurn();
  assert.ok(released);
  assert.is(syncs, 0);
  store.close();
});

test("checkpoints run on the worker thread: the WAL's frames reach the database file without the writer checkpointing", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-gate-"));
  dirs.push(dir);
  const store = EventStore.open(path.join(dir, "ckpt.sqlite"));
  store.db.exec("CREATE TABLE t (n INTEGER, pad TEXT)");
  const warnings: string[] = [];
  const gate = new CommitGate(store.db, { fatal: (m, e) => assert.unreachable(`${m}: ${e}`), warn: (m) => warnings.push(m) },
    { checkpoint: { intervalMs: 20 } });
  const insert = store.db.prepare("INSERT INTO t VALUES (?, ?)");
  for (let turn = 0; turn < 20; turn++) {
    gate.beginWrite();
    for (let i = 0; i < 20; i++) insert.run(turn * 20 + i, "x".repeat(500));
    await new Promise<void>((resolve) => gate.hold(resolve));
  }
  assert.is(store.db.pragma("wal_autocheckpoint", { simple: true }), 10_000, "the writer's own checkpoint is only a fallback");
  // 400 rows of 500 bytes: about 200 KB, in the WAL until a checkpoint copies them into the database file.
  let size = 0;
  for (let i = 0; i < 100 && size < 200_000; i++) {
    await new Promise((r) => setTimeout(r, 20));
    size = fs.statSync(store.db.name).size;
  }
  assert.ok(size >= 200_000, `the database file holds ${size} bytes: the worker did not checkpoint`);
  gate.flush();
  assert.is(store.db.pragma("wal_autocheckpoint", { simple: true }), 1000, "SQLite's own checkpoint is back after shutdown");
  assert.equal(warnings, []);
  store.close();
});

// Output that depends on nothing waiting to be durable (the causes a handling names).
test("free output: a handling whose streams have nothing pending is free; one that reads a stream written this turn or in an unsynced commit is not", async () => {
  const { store, gate, syncs } = setup();
  const insert = store.db.prepare("INSERT INTO t VALUES (?)");
  const append = (stream: string, n: number) => { gate.beginWrite(stream); insert.run(n); };
  assert.ok(gate.free, "nothing waiting to be durable: any output is free, in a handling or not");
  assert.ok(gate.within("account:a", () => gate.free), "nothing written anywhere: free");
  append("account:c", 1); // c's roster change, in this turn
  assert.not.ok(gate.free, "outside a handling, with a write pending, output is not free");
  assert.ok(gate.within("account:a", () => { gate.touch("account:b"); return gate.free; }), "a to b does not read c's stream");
  assert.not.ok(gate.within("account:a", () => { gate.touch("account:c"); return gate.free; }), "a to c reads c's stream, written in the open turn");
  await endOfTurn();
  assert.is(syncs.length, 1);
  assert.not.ok(gate.within("account:c", () => gate.free), "c's commit is not durable yet");
  assert.ok(gate.within("account:b", () => gate.free), "b's is untouched");
  syncs[0]?.done(null);
  assert.ok(gate.within("account:c", () => gate.free), "free once c's commit is durable");
  gate.flush();
  store.close();
});

test("free output: an append inside the handling, a write without a stream, or touching everything makes its output wait", async () => {
  const { store, gate, syncs, write } = setup();
  const insert = store.db.prepare("INSERT INTO t VALUES (?)");
  assert.not.ok(gate.within("account:a", () => { gate.beginWrite("account:a"); insert.run(1); return gate.free; }), "its own append");
  await endOfTurn();
  syncs[0]?.done(null);
  assert.ok(gate.within("account:a", () => { gate.touchAll(); return gate.free; }), "touching everything, with nothing pending anywhere: free");
  gate.beginWrite("account:z");
  insert.run(9);
  assert.not.ok(gate.within("account:a", () => { gate.touchAll(); return gate.free; }), "a component, the host or a remote server, with z's write pending");
  assert.ok(gate.within("account:a", () => gate.free), "z's write does not concern a");
  await endOfTurn();
  syncs[1]?.done(null);
  write(2); // a module's table (the archive): no stream
  assert.not.ok(gate.within("account:b", () => gate.free), "an unnamed write pending: nothing is free");
  await endOfTurn();
  assert.not.ok(gate.within("account:b", () => gate.free), "until its commit is durable");
  syncs[2]?.done(null);
  assert.ok(gate.within("account:b", () => gate.free));
  // Nested handlings add to the outer one.
  gate.beginWrite("account:x");
  insert.run(3);
  assert.not.ok(gate.within("account:a", () => { gate.within("account:x", () => undefined); return gate.free; }), "the inner handling's stream counts for the outer one");
  gate.flush();
  store.close();
});

test.run();
