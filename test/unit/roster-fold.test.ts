// The in-place fold (applyAccountEvent / foldAccountStream) against the pure
// evolve on random event sequences: the same state after every event, and
// neither changes what it was given.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { emptyRosterState, type RosterEvent, type RosterState } from "../../src/roster/roster-types.js";
import { applyAccountEvent, cloneRosterState, evolveAccountStream, foldAccountStream, foldRoster } from "../../src/roster/roster-evolve.js";

const JIDS = ["a@x", "b@x", "c@x", "x"];
const jid = fc.constantFrom(...JIDS);
const jids = fc.uniqueArray(jid, { minLength: 1, maxLength: 3 });
const group = fc.uniqueArray(fc.constantFrom("G1", "G2"), { maxLength: 2 });

type AnyEvent = { type: string; payload: unknown };

const event: fc.Arbitrary<AnyEvent> = fc.oneof(
  fc.record({ type: fc.constant("RosterItemSet"), payload: fc.record({ jid, groups: group, name: fc.constantFrom("N", "M") }, { requiredKeys: ["jid", "groups"] }) }),
  ...(["RosterItemRemoved", "SubscriptionRequested", "ContactApproved", "ContactPreApproved", "SubscriptionGranted", "ContactSubscriptionCancelled", "SubscriptionCancelled"] as const)
    .map((type) => fc.record({ type: fc.constant(type), payload: fc.record({ jid }) })),
  fc.record({ type: fc.constant("SubscriptionRequestReceived"), payload: fc.record({ jid, stanza: fc.constantFrom("<presence type='subscribe'/>", "<presence type='subscribe' id='2'/>") }) }),
  fc.record({ type: fc.constant("ContactsBlocked"), payload: fc.record({ jids }) }),
  fc.record({ type: fc.constant("ContactsUnblocked"), payload: fc.record({ jids }) }),
  fc.constant({ type: "AllContactsUnblocked", payload: {} }),
  fc.constant({ type: "AccountDeleted", payload: { jid: "me@x", reason: "test" } }),
  fc.constant({ type: "PasswordChanged", payload: { jid: "me@x", credentials: [] } }),
);

/** A state as plain data, in the containers' iteration order (which snapshots preserve). */
function plain(s: RosterState) {
  return { items: [...s.items.entries()], pendingIn: [...s.pendingIn.entries()], blocked: [...s.blocked], version: s.version };
}

const settings = { numRuns: 500, seed: 1912 };

test("after every event, the in-place fold equals the pure evolve", () => {
  fc.assert(fc.property(fc.array(event, { maxLength: 60 }), (events) => {
    let pure = emptyRosterState;
    const draft = cloneRosterState(emptyRosterState);
    for (const e of events) {
      pure = evolveAccountStream(pure, e);
      applyAccountEvent(draft, e);
      assert.equal(plain(draft), plain(pure), `after ${JSON.stringify(e)}`);
    }
  }), settings);
});

test("foldAccountStream and foldRoster start from a state without changing it", () => {
  fc.assert(fc.property(fc.array(event, { maxLength: 30 }), fc.array(event, { maxLength: 30 }), (first, second) => {
    const from = foldAccountStream(first);
    const before = plain(from);
    let pure: RosterState = from;
    for (const e of second) pure = evolveAccountStream(pure, e);
    assert.equal(plain(foldAccountStream(second, from)), plain(pure));
    const rosterOnly = second.filter((e) => e.type !== "AccountDeleted" && e.type !== "PasswordChanged") as RosterEvent[];
    let pureRoster: RosterState = from;
    for (const e of rosterOnly) pureRoster = evolveAccountStream(pureRoster, e);
    assert.equal(plain(foldRoster(rosterOnly, from)), plain(pureRoster));
    assert.equal(plain(from), before, "the starting state is unchanged");
  }), settings);
});

test("the pure evolve never changes the state it is given", () => {
  fc.assert(fc.property(fc.array(event, { maxLength: 40 }), (events) => {
    const states: [RosterState, ReturnType<typeof plain>][] = [];
    let s = emptyRosterState;
    for (const e of events) {
      states.push([s, plain(s)]);
      s = evolveAccountStream(s, e);
    }
    for (const [state, was] of states) assert.equal(plain(state), was);
  }), settings);
});

test("AccountDeleted empties everything, roster version included", () => {
  const draft = foldAccountStream([
    { type: "RosterItemSet", payload: { jid: "a@x", groups: [] } },
    { type: "SubscriptionRequestReceived", payload: { jid: "b@x", stanza: "<presence/>" } },
    { type: "ContactsBlocked", payload: { jids: ["c@x"] } },
  ]);
  assert.is(draft.version, 1);
  applyAccountEvent(draft, { type: "AccountDeleted", payload: { jid: "me@x", reason: "test" } });
  assert.equal(plain(draft), plain(emptyRosterState));
});

test.run();
