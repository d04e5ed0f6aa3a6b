// The account command handler: the cached state used as it is, a loaded
// one otherwise; nothing appended for a decision without events or for an
// illegal command; a concurrency conflict reloaded and decided again once,
// a second one an error with context. Over fakes, then over a real store.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConcurrencyError, EventStore } from "../../src/events/store.js";
import { accountStreamId, type NewEvent, type StoredEvent } from "../../src/events/types.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import { AccountCommandHandler, storeCommandHandler, type AccountCommandHandlerDeps, type Versioned } from "../../src/accounts/command-handler.js";
import {
  accountDecider, AccountError, foldStored, foldStream, NO_LIMITS, RosterError, StreamConflictError, type AccountStreamState,
} from "../../src/accounts/decider/index.js";
import { registerAccount, deleteAccount, accountExists } from "../../src/accounts/account-service.js";

const ME = "juliet@example.com";
const ROMEO = "romeo@example.com";
const NOW = "2026-12-02T12:00:00.000Z";
const by = { kind: "user" as const, resource: "balcony" };

/** A stream in memory; `conflicts` appends fail with ConcurrencyError first, as if another writer got in. */
function memoryStream(conflicts = 0) {
  const log: StoredEvent[] = [];
  const calls = { load: 0, append: 0 };
  let pending = conflicts;
  const deps: AccountCommandHandlerDeps = {
    load: () => {
      calls.load++;
      return foldStream(log);
    },
    append: (bareJid: string, expected: number, events: NewEvent[]) => {
      calls.append++;
      if (pending > 0) {
        pending--;
        // The other writer's event lands, so the reload sees the stream moved.
        log.push({ seq: log.length + 1, streamId: accountStreamId(bareJid), streamVersion: log.length + 1, type: "RosterItemSet",
          schemaVersion: 1, payload: { jid: `other${log.length}@example.com`, groups: [] }, meta: { by: { kind: "admin", tool: "test" }, at: NOW }, recordedAt: NOW });
        throw new ConcurrencyError(accountStreamId(bareJid), expected, log.length);
      }
      if (expected !== log.length) throw new ConcurrencyError(accountStreamId(bareJid), expected, log.length);
      const stored = events.map((e, i): StoredEvent => ({
        seq: log.length + i + 1, streamId: accountStreamId(bareJid), streamVersion: expected + i + 1, type: e.type,
        schemaVersion: 1, payload: e.payload, meta: e.meta, recordedAt: NOW,
      }));
      log.push(...stored);
      return stored;
    },
    fold: foldStored,
    now: () => NOW,
    limits: NO_LIMITS,
  };
  return { log, calls, handler: new AccountCommandHandler(deps) };
}

test("a cached state is used as it is: no load; the result is the state after the stored events", () => {
  const { calls, handler } = memoryStream();
  const cached: Versioned<AccountStreamState> = { state: accountDecider.initialState, version: 0 };
  const r = handler.execute(ME, cached, { kind: "roster.set", jid: ROMEO, name: "Romeo", groups: [] }, by);
  assert.equal(calls, { load: 0, append: 1 });
  assert.is(r.version, 1);
  assert.is(r.state.roster.items.get(ROMEO)?.name, "Romeo");
  assert.equal(r.events.map((e) => [e.type, e.streamVersion, e.meta]), [["RosterItemSet", 1, { by, at: NOW }]]);
  assert.equal(r.effects, [{ kind: "rosterPush", jids: [ROMEO] }]);
});

test("without a cached state the stream is loaded first", () => {
  const { calls, handler } = memoryStream();
  handler.execute(ME, undefined, { kind: "register", credentials: [] }, by);
  const r = handler.execute(ME, undefined, { kind: "password.change", credentials: [] }, by);
  assert.equal(calls, { load: 2, append: 2 });
  assert.is(r.version, 2);
  assert.ok(r.state.account.exists);
});

test("a decision without events appends nothing and still returns its effects", () => {
  const { calls, handler } = memoryStream();
  const r = handler.execute(ME, { state: accountDecider.initialState, version: 0 }, { kind: "probe.in", contact: ROMEO, from: `${ROMEO}/orchard` }, by);
  assert.equal(calls, { load: 0, append: 0 });
  assert.equal(r.events, []);
  assert.equal(r.effects, [{ kind: "presence", type: "unsubscribed", to: ROMEO }]);
});

test("an illegal command throws its decision error and appends nothing", () => {
  const { calls, handler } = memoryStream();
  assert.throws(() => handler.execute(ME, undefined, { kind: "roster.remove", jid: ROMEO }, by),
    (err: unknown) => err instanceof RosterError && err.condition === "item-not-found" && err.context.account === ME);
  assert.is(calls.append, 0);
});

test("a concurrency conflict: reload, decide again on the new state, append once more", () => {
  const { calls, log, handler } = memoryStream(1);
  const stale: Versioned<AccountStreamState> = { state: accountDecider.initialState, version: 0 };
  const r = handler.execute(ME, stale, { kind: "roster.set", jid: ROMEO, name: undefined, groups: [] }, by);
  assert.equal(calls, { load: 1, append: 2 });
  assert.is(r.version, 2, "after the other writer's event and ours");
  assert.equal([...r.state.roster.items.keys()].sort(), ["other0@example.com", ROMEO].sort());
  assert.is(log.length, 2);
});

test("a second conflict is an error naming the account, the command and the versions", () => {
  const { calls, handler } = memoryStream(2);
  assert.throws(() => handler.execute(ME, { state: accountDecider.initialState, version: 0 }, { kind: "block", jids: [ROMEO] }, by),
    (err: unknown) => err instanceof StreamConflictError && err.account === ME && err.command === "block" &&
      err.cause instanceof ConcurrencyError && /juliet@example\.com.*block/.test(err.message));
  assert.equal(calls, { load: 1, append: 2 });
});

test("a decision error on the retry propagates as itself", () => {
  // Another writer registered the account between our read and our append.
  const log: StoredEvent[] = [];
  const handler = new AccountCommandHandler({
    load: () => foldStream(log),
    append: (jid, expected) => {
      log.push({ seq: 1, streamId: accountStreamId(jid), streamVersion: 1, type: "AccountRegistered", schemaVersion: 1,
        payload: { jid, credentials: [] }, meta: { by, at: NOW }, recordedAt: NOW });
      throw new ConcurrencyError(accountStreamId(jid), expected, 1);
    },
    fold: foldStored,
    now: () => NOW,
    limits: NO_LIMITS,
  });
  assert.throws(() => handler.execute(ME, { state: accountDecider.initialState, version: 0 }, { kind: "register", credentials: [] }, by),
    (err: unknown) => err instanceof AccountError && err.code === "exists");
});

// Over a real store, with the projections.

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function openStore(): EventStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-handler-"));
  dirs.push(dir);
  const store = EventStore.open(path.join(dir, "test.sqlite"));
  registerStandardProjections(store);
  return store;
}

test("over the store: the account actor's cached state survives a CLI write in between (one retry)", () => {
  const store = openStore();
  registerAccount(store, ME, "pw", { kind: "admin", tool: "test" }, 4096);
  const actor = storeCommandHandler(store, { now: () => NOW, limits: { rosterItems: 10, blockedItems: 10 } });
  let cached = foldStream(store.readStream(accountStreamId(ME)));
  cached = actor.execute(ME, cached, { kind: "roster.set", jid: ROMEO, name: undefined, groups: [] }, by);
  // Another process appends (the CLI changing the password).
  storeCommandHandler(store).execute(ME, undefined, { kind: "password.change", credentials: [] }, { kind: "admin", tool: "cli" });
  const r = actor.execute(ME, cached, { kind: "block", jids: ["tybalt@example.com"] }, by);
  assert.is(r.version, 4);
  assert.equal(r.state, foldStream(store.readStream(accountStreamId(ME))).state, "the result is what the log folds to");
  assert.equal(r.state.account.credentials, []);
  const rows = store.db.prepare("SELECT jid FROM blocklist WHERE account = ?").all(ME) as { jid: string }[];
  assert.equal(rows.map((row) => row.jid), ["tybalt@example.com"], "the projection was updated in the append");
});

test("over the store: account-service's commands keep their behaviour (exists, not-found, re-registration)", () => {
  const store = openStore();
  const admin = { kind: "admin" as const, tool: "test" };
  registerAccount(store, ME, "pw", admin, 4096);
  assert.throws(() => registerAccount(store, ME, "pw", admin, 4096), (err: unknown) => (err as { code?: string }).code === "exists");
  deleteAccount(store, ME, admin);
  assert.not.ok(accountExists(store.db, ME));
  assert.throws(() => deleteAccount(store, ME, admin), (err: unknown) => (err as { code?: string }).code === "not-found");
  registerAccount(store, ME, "pw2", admin, 4096);
  assert.ok(accountExists(store.db, ME));
  assert.equal(store.readStream(accountStreamId(ME)).map((e) => e.type), ["AccountRegistered", "AccountDeleted", "AccountRegistered"]);
});

test.run();
