// Property: for random histories (conversations among a few accounts, with
// deletions and re-registrations), at every snapshot interval N from 1 to 7,
// the state from the newest snapshot plus the tail equals the full fold of
// the stream equals the roster projection — now and at every stream version,
// the account part (credentials) included, against the decider's own fold —
// and a rebuild writes the very same snapshots. Bounded and seeded in `npm
// test`; PARLEY_PROPERTY_RUNS=N runs longer with a random seed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { EventStore } from "../../src/events/store.js";
import { accountStreamId, type StoredEvent } from "../../src/events/types.js";
import { registerStandardProjections } from "../../src/projections/index.js";
import {
  loadAccountState, stateAtVersion, snapshotAtOrBefore, accountStreamStateAt, loadAccountStreamState,
  cloneAccountStreamState, foldStoredInPlace, type MutableAccountStreamState,
} from "../../src/projections/account-snapshots.js";
import { initialAccountStreamState } from "../../src/accounts/decider/index.js";
import { foldStream } from "../../src/accounts/decider/index.js";
import { evolveAccountStream } from "../../src/roster/roster-evolve.js";
import { emptyRosterState, type RosterState } from "../../src/roster/roster-types.js";
import { verifySnapshots } from "../../src/replay/verify.js";
import { historyOf, stepArbitrary, type Step } from "./account-history.js";

const USERS = ["alice@localhost", "bob@localhost", "carol@localhost"];
const runs = Number(process.env.PARLEY_PROPERTY_RUNS ?? 0);
const settings: fc.Parameters<[Step[], number]> = runs > 0 ? { numRuns: runs } : { numRuns: 120, seed: 2026 };

/** Order-free plain data: the projection's rows have no iteration order. */
function plain(s: RosterState) {
  return {
    items: [...s.items.values()].map((i) => ({ jid: i.jid, name: i.name ?? null, groups: [...i.groups], subscription: i.subscription, ask: i.ask, approved: i.approved })).sort((a, b) => a.jid.localeCompare(b.jid)),
    pendingIn: [...s.pendingIn.entries()].sort(),
    blocked: [...s.blocked].sort(),
    version: s.version,
  };
}

function fromProjection(store: EventStore, account: string) {
  const db = store.db;
  const items = (db.prepare("SELECT jid, name, groups, subscription, ask, approved FROM roster_items WHERE account = ? ORDER BY jid").all(account) as
    { jid: string; name: string | null; groups: string; subscription: string; ask: number; approved: number }[])
    .map((r) => ({ jid: r.jid, name: r.name, groups: JSON.parse(r.groups) as string[], subscription: r.subscription, ask: r.ask === 1, approved: r.approved === 1 }));
  const pendingIn = (db.prepare("SELECT jid, stanza FROM roster_pending_in WHERE account = ? ORDER BY jid").all(account) as { jid: string; stanza: string }[]).map((r) => [r.jid, r.stanza]);
  const blocked = (db.prepare("SELECT jid FROM blocklist WHERE account = ? ORDER BY jid").all(account) as { jid: string }[]).map((r) => r.jid);
  const version = (db.prepare("SELECT version FROM roster_versions WHERE account = ?").get(account) as { version: number } | undefined)?.version ?? 0;
  return { items, pendingIn, blocked, version };
}

function fullFold(events: readonly StoredEvent[], upTo = Infinity): RosterState {
  let s = emptyRosterState;
  for (const e of events) if (e.streamVersion <= upTo) s = evolveAccountStream(s, e);
  return s;
}

function snapshotRows(store: EventStore): unknown[] {
  return store.db.prepare("SELECT stream_id, stream_version, max_seq, max_recorded_at, schema_version, state FROM account_snapshots ORDER BY 1, 2").all();
}

test("snapshot + tail = full fold = projection, at every version, for snapshot intervals 1..7", () => {
  fc.assert(fc.property(fc.array(stepArbitrary(USERS.length), { minLength: 10, maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (steps, every) => {
    const store = EventStore.open(":memory:");
    try {
      registerStandardProjections(store, [], { snapshotEvery: every });
      const versions = new Map<string, number>();
      for (const a of historyOf(USERS, steps)) {
        const stored = store.append(accountStreamId(a.user), versions.get(a.user) ?? 0, a.events);
        versions.set(a.user, stored[stored.length - 1]?.streamVersion ?? 0);
      }
      for (const u of USERS) {
        const streamId = accountStreamId(u);
        const events = store.readStream(streamId);
        const loaded = loadAccountState(store, u);
        assert.is(loaded.version, events.length, `${u}: the loaded version`);
        const full = plain(fullFold(events));
        assert.equal(plain(loaded.state), full, `${u}: snapshot + tail vs the full fold (every ${every})`);
        assert.equal(fromProjection(store, u), full, `${u}: the roster projection vs the full fold`);
        for (let v = 0; v <= events.length; v++) {
          assert.equal(plain(stateAtVersion(store, streamId, v).state), plain(fullFold(events, v)), `${u} at version ${v} (every ${every})`);
          // The decider's whole state (account part and roster), against the decider's own fold.
          const whole = accountStreamStateAt(store, u, v);
          const decided = foldStream(events.slice(0, v));
          assert.equal(whole.state.account, decided.state.account, `${u}: the account part at version ${v}`);
          assert.equal(plain(whole.state.roster), plain(decided.state.roster));
          assert.is(whole.version, decided.version);
        }
        const now = loadAccountStreamState(store, u);
        assert.equal(now.state.account, foldStream(events).state.account);
        assert.is(now.version, events.length);
        // The snapshots were really used: the newest is at the last multiple of N.
        const newest = snapshotAtOrBefore(store.db, streamId, Number.MAX_SAFE_INTEGER);
        assert.is(newest?.streamVersion ?? 0, events.length - (events.length % every), `${u}: the newest snapshot's version`);
      }
      const report = verifySnapshots(store);
      assert.ok(report.ok, report.differences.join("; "));
      const before = snapshotRows(store);
      store.rebuildProjections();
      assert.equal(snapshotRows(store), before, "a rebuild writes the same snapshots");
    } finally {
      store.close();
    }
  }), settings);
});

test("snapshots written from the state the appender offers (as the account actors do) are the rows a fold of the log writes", () => {
  fc.assert(fc.property(fc.array(stepArbitrary(USERS.length), { minLength: 10, maxLength: 60 }), fc.integer({ min: 1, max: 7 }), (steps, every) => {
    const store = EventStore.open(":memory:");
    try {
      const snapshots = registerStandardProjections(store, [], { snapshotEvery: every });
      // Each user's state kept in memory and folded in place after each append, as the kernel keeps an actor's.
      const live = new Map<string, { state: MutableAccountStreamState; version: number }>();
      for (const a of historyOf(USERS, steps)) {
        const streamId = accountStreamId(a.user);
        const mine = live.get(a.user) ?? { state: cloneAccountStreamState(initialAccountStreamState), version: 0 };
        const stored = snapshots.appendingFrom(streamId, mine.version, mine.state, () => store.append(streamId, mine.version, a.events));
        foldStoredInPlace(mine.state, stored);
        mine.version = stored[stored.length - 1]?.streamVersion ?? mine.version;
        live.set(a.user, mine);
      }
      const written = snapshotRows(store);
      const due = [...live.values()].some((l) => l.version >= every);
      assert.is(written.length > 0, due, "snapshots were written where a stream reached a multiple of the interval");
      const report = verifySnapshots(store);
      assert.ok(report.ok, report.differences.join("; "));
      // A rebuild folds every snapshot from the log alone.
      store.rebuildProjections();
      assert.equal(snapshotRows(store), written, `the offered state's snapshots vs the fold's (every ${every})`);
    } finally {
      store.close();
    }
  }), settings);
});

test("a snapshot of an older schema is ignored: the state is folded from an older one or from the start", () => {
  const store = EventStore.open(":memory:");
  try {
    registerStandardProjections(store, [], { snapshotEvery: 2 });
    const u = "alice@localhost";
    const appends = historyOf([u, "bob@localhost"], [
      { kind: "command", command: { kind: "rosterSet", owner: 0, contact: 1, name: "A" } },
      { kind: "command", command: { kind: "block", owner: 0, contact: 1 } },
      { kind: "command", command: { kind: "rosterSet", owner: 0, contact: 1, name: "B" } },
      { kind: "command", command: { kind: "unblock", owner: 0, contact: "all" } },
    ]);
    const versions = new Map<string, number>();
    for (const a of appends) {
      const stored = store.append(accountStreamId(a.user), versions.get(a.user) ?? 0, a.events);
      versions.set(a.user, stored[stored.length - 1]?.streamVersion ?? 0);
    }
    const streamId = accountStreamId(u);
    const truth = plain(fullFold(store.readStream(streamId)));
    // Every snapshot made stale, and its state made wrong: if any were read, the state would be wrong too.
    store.db.prepare("UPDATE account_snapshots SET schema_version = schema_version - 1, state = ? WHERE stream_id = ?")
      .run(JSON.stringify({ version: 99, items: [], pendingIn: [], blocked: ["wrong@x"] }), streamId);
    assert.is(snapshotAtOrBefore(store.db, streamId, 100), undefined);
    assert.equal(plain(loadAccountState(store, u).state), truth);
    const report = verifySnapshots(store);
    assert.not.ok(report.ok);
    assert.match(report.differences.join(" "), /schema other than/);
    store.rebuildProjections();
    assert.ok(verifySnapshots(store).ok, "a rebuild rewrites them");
    assert.ok(snapshotAtOrBefore(store.db, streamId, 100));
  } finally {
    store.close();
  }
});

test.run();
