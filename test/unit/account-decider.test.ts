// The account decider as specifications, beyond Appendix A: roster set and
// remove (RFC 6121 §2.3-2.5), block and unblock (XEP-0191), the account's
// lifecycle (XEP-0077, the CLI), and the fold of a stream across a deletion.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  accountDecider, carryOut, AccountError, BlockingError, DecisionError, RosterError, NO_LIMITS,
  type AccountEffect, type AccountEffectHandlers, type AccountStreamEvent, type DecideContext,
} from "../../src/accounts/decider/index.js";
import type { ScramCredential } from "../../src/sasl/credentials.js";
import { decideRosterRemove, decideRosterSet } from "../../src/roster/roster-commands.js";
import { decideBlock, decideUnblock } from "../../src/blocking/blocklist.js";
import { decideInbound, decideOutbound } from "../../src/roster/subscription.js";
import { emptyRosterState } from "../../src/roster/roster-types.js";
import { spec } from "../helpers/decider-spec.js";

const ME = "juliet@example.com";
const ROMEO = "romeo@example.com";
const NURSE = "nurse@example.com";
const TYBALT = "tybalt@example.com";
const context: DecideContext = {
  account: ME, now: "2026-12-02T12:00:00.000Z", by: { kind: "user", resource: "balcony" }, limits: { rosterItems: 3, blockedItems: 2 },
};
const juliet = spec(accountDecider, context);

const credential = (salt: string): ScramCredential => ({ hash: "SHA-256", salt, iterations: 4096, storedKey: "stored", serverKey: "server" });
const registered: AccountStreamEvent = { type: "AccountRegistered", payload: { jid: ME, credentials: [credential("a")] } };
const item = (jid: string, name?: string): AccountStreamEvent =>
  ({ type: "RosterItemSet", payload: name !== undefined ? { jid, name, groups: [] } : { jid, groups: [] } });
const on = (type: "SubscriptionRequested" | "SubscriptionGranted" | "ContactApproved" | "ContactPreApproved", jid: string): AccountStreamEvent => ({ type, payload: { jid } });
const asked = (jid: string): AccountStreamEvent => ({ type: "SubscriptionRequestReceived", payload: { jid, stanza: `<presence type='subscribe' from='${jid}'/>` } });
/** Subscription both ways with a contact. */
const both = (jid: string): AccountStreamEvent[] => [item(jid), asked(jid), on("ContactApproved", jid), on("SubscriptionRequested", jid), on("SubscriptionGranted", jid)];

test("a subscription stanza to or from oneself changes nothing and goes nowhere", () => {
  juliet.given([registered]).when({ kind: "subscription.out", type: "subscribe", contact: ME }).then([]).thenEffects([]);
  juliet.given([registered]).when({ kind: "subscription.in", type: "subscribe", contact: ME, stanza: "<presence/>" }).then([]).thenEffects([]);
});

// roster.set (RFC 6121 §2.3)

test("roster set: a new item is set and pushed", () => {
  juliet.given([registered]).when({ kind: "roster.set", jid: ROMEO, name: "Romeo", groups: ["Friends"] })
    .then([{ type: "RosterItemSet", payload: { jid: ROMEO, name: "Romeo", groups: ["Friends"] } }])
    .thenEffects([{ kind: "rosterPush", jids: [ROMEO] }])
    .thenState((s) => s.roster.items.get(ROMEO)?.name === "Romeo" && s.roster.version === 1, "romeo named, version 1");
});

test("roster set: without a name the item has none; the same name and groups again change nothing and push nothing", () => {
  juliet.given([]).when({ kind: "roster.set", jid: ROMEO, name: undefined, groups: [] })
    .then([{ type: "RosterItemSet", payload: { jid: ROMEO, groups: [] } }]);
  juliet.given([item(ROMEO, "Romeo")]).when({ kind: "roster.set", jid: ROMEO, name: "Romeo", groups: [] })
    .then([]).thenEffects([]);
  juliet.given([item(ROMEO, "Romeo")]).when({ kind: "roster.set", jid: ROMEO, name: "Romeo", groups: ["Montague"] })
    .then([{ type: "RosterItemSet", payload: { jid: ROMEO, name: "Romeo", groups: ["Montague"] } }])
    .thenEffects([{ kind: "rosterPush", jids: [ROMEO] }]);
});

test("roster set: a roster set keeps the subscription (§2.3.2: the client cannot set it)", () => {
  juliet.given(both(ROMEO)).when({ kind: "roster.set", jid: ROMEO, name: "R", groups: [] })
    .thenState((s) => s.roster.items.get(ROMEO)?.subscription === "both", "still both");
});

test("roster set: the user's own JID is not-allowed (§2.3.3)", () => {
  juliet.given([]).when({ kind: "roster.set", jid: ME, name: undefined, groups: [] })
    .thenThrows(RosterError).thenThrows("not-allowed").thenThrows(DecisionError);
});

test("roster set: a new item beyond the limit is policy-violation; an existing one may still change", () => {
  const full = [item(ROMEO), item(NURSE), item(TYBALT)];
  juliet.given(full).when({ kind: "roster.set", jid: "friar@example.com", name: undefined, groups: [] })
    .thenThrows((err) => err instanceof RosterError && err.condition === "policy-violation" && err.context.subject === "friar@example.com");
  juliet.given(full).when({ kind: "roster.set", jid: NURSE, name: "Nurse", groups: [] })
    .then([{ type: "RosterItemSet", payload: { jid: NURSE, name: "Nurse", groups: [] } }]);
});

// roster.remove (RFC 6121 §2.5)

test("roster remove: an item not in the roster is item-not-found; oneself is not-allowed", () => {
  juliet.given([item(NURSE)]).when({ kind: "roster.remove", jid: ROMEO }).thenThrows("item-not-found");
  juliet.given([]).when({ kind: "roster.remove", jid: ME }).thenThrows("not-allowed");
});

test("§2.5.3 roster remove with subscription both: push, unsubscribed, unavailables, unsubscribe (Prosody's order)", () => {
  juliet.given(both(ROMEO)).when({ kind: "roster.remove", jid: ROMEO })
    .then([{ type: "RosterItemRemoved", payload: { jid: ROMEO } }])
    .thenEffects([
      { kind: "rosterPush", jids: [ROMEO] },
      { kind: "presence", type: "unsubscribed", to: ROMEO },
      { kind: "unavailableFromResources", to: ROMEO },
      { kind: "presence", type: "unsubscribe", to: ROMEO },
    ])
    .thenState((s) => !s.roster.items.has(ROMEO) && s.roster.version === 5, "without romeo, at version 5");
});

test("§2.5.3 roster remove cancels only what there is: a pending-in request, a pending-out one, nothing", () => {
  juliet.given([item(ROMEO), asked(ROMEO)]).when({ kind: "roster.remove", jid: ROMEO })
    .thenEffects([{ kind: "rosterPush", jids: [ROMEO] }, { kind: "presence", type: "unsubscribed", to: ROMEO }])
    .thenState((s) => !s.roster.pendingIn.has(ROMEO), "the request gone too");
  juliet.given([on("SubscriptionRequested", ROMEO)]).when({ kind: "roster.remove", jid: ROMEO })
    .thenEffects([
      { kind: "rosterPush", jids: [ROMEO] },
      { kind: "unavailableFromResources", to: ROMEO },
      { kind: "presence", type: "unsubscribe", to: ROMEO },
    ]);
  juliet.given([item(ROMEO)]).when({ kind: "roster.remove", jid: ROMEO })
    .thenEffects([{ kind: "rosterPush", jids: [ROMEO] }]);
});

// block / unblock (XEP-0191)

test("block: the request is pushed as made; only JIDs not yet blocked are recorded", () => {
  juliet.given([{ type: "ContactsBlocked", payload: { jids: [TYBALT] } }]).when({ kind: "block", jids: [TYBALT, NURSE] })
    .then([{ type: "ContactsBlocked", payload: { jids: [NURSE] } }])
    .thenEffects([{ kind: "blocklistPush", action: "block", jids: [TYBALT, NURSE] }])
    .thenState((s) => s.roster.blocked.has(TYBALT) && s.roster.blocked.has(NURSE), "both blocked");
});

test("block: a subscriber newly blocked sees us go unavailable (XEP-0191 §3.3); a pending request from them is dropped", () => {
  juliet.given([...both(ROMEO), asked(NURSE)]).when({ kind: "block", jids: [ROMEO, NURSE] })
    .then([{ type: "ContactsBlocked", payload: { jids: [ROMEO, NURSE] } }])
    .thenEffects([{ kind: "blocklistPush", action: "block", jids: [ROMEO, NURSE] }, { kind: "unavailableFromResources", to: ROMEO }])
    .thenState((s) => !s.roster.pendingIn.has(NURSE), "nurse's request dropped");
});

test("block: an empty request is bad-request; beyond the limit is policy-violation (and nothing is recorded)", () => {
  juliet.given([]).when({ kind: "block", jids: [] }).thenThrows(BlockingError).thenThrows("bad-request");
  juliet.given([{ type: "ContactsBlocked", payload: { jids: [TYBALT] } }]).when({ kind: "block", jids: [ROMEO, NURSE] })
    .thenThrows("policy-violation");
  // Re-blocking what is blocked does not count against the limit.
  juliet.given([{ type: "ContactsBlocked", payload: { jids: [TYBALT, NURSE] } }]).when({ kind: "block", jids: [TYBALT] }).then([]);
});

test("unblock: named JIDs; an unblocked subscriber gets our current presence again", () => {
  juliet.given([...both(ROMEO), { type: "ContactsBlocked", payload: { jids: [ROMEO, TYBALT] } }]).when({ kind: "unblock", jids: [ROMEO, NURSE] })
    .then([{ type: "ContactsUnblocked", payload: { jids: [ROMEO] } }])
    .thenEffects([{ kind: "blocklistPush", action: "unblock", jids: [ROMEO, NURSE] }, { kind: "currentPresence", to: ROMEO, orUnavailable: false }])
    .thenState((s) => [...s.roster.blocked].join() === TYBALT, "only tybalt still blocked");
});

test("unblock: an empty list unblocks everyone (XEP-0191 §3.4), pushed as an empty unblock", () => {
  juliet.given([...both(ROMEO), { type: "ContactsBlocked", payload: { jids: [ROMEO, TYBALT] } }]).when({ kind: "unblock", jids: [] })
    .then([{ type: "AllContactsUnblocked", payload: {} }])
    .thenEffects([{ kind: "blocklistPush", action: "unblock", jids: [] }, { kind: "currentPresence", to: ROMEO, orUnavailable: false }])
    .thenState((s) => s.roster.blocked.size === 0, "nobody blocked");
  juliet.given([]).when({ kind: "unblock", jids: [] }).then([]).thenEffects([{ kind: "blocklistPush", action: "unblock", jids: [] }]);
});

// register / password.change / delete (XEP-0077, the CLI)

test("register: a new account exists with its credentials; registering it again is a conflict", () => {
  juliet.given([]).when({ kind: "register", credentials: [credential("a")] })
    .then([registered]).thenEffects([])
    .thenState({ account: { exists: true, credentials: [credential("a")] }, roster: emptyRosterState });
  juliet.given([registered]).when({ kind: "register", credentials: [credential("b")] })
    .thenThrows((err) => err instanceof AccountError && err.code === "exists" && err.condition === "conflict" && err.jid === ME);
});

test("password change: new credentials; an account that does not exist is not-found", () => {
  juliet.given([registered]).when({ kind: "password.change", credentials: [credential("b")] })
    .then([{ type: "PasswordChanged", payload: { jid: ME, credentials: [credential("b")] } }])
    .thenState((s) => s.account.credentials[0]?.salt === "b", "the new salt");
  juliet.given([]).when({ kind: "password.change", credentials: [credential("b")] }).thenThrows("item-not-found");
});

test("delete: the account goes and every session is kicked; deleting what does not exist is not-found", () => {
  juliet.given([registered, ...both(ROMEO)]).when({ kind: "delete", reason: "cancelled by the user (XEP-0077)" })
    .then([{ type: "AccountDeleted", payload: { jid: ME, reason: "cancelled by the user (XEP-0077)" } }])
    .thenEffects([{ kind: "kickSessions", condition: "not-authorized", text: "This account has been deleted" }])
    .thenState(accountDecider.initialState);
  juliet.given([registered, { type: "AccountDeleted", payload: { jid: ME, reason: "x" } }]).when({ kind: "delete", reason: "again" })
    .thenThrows((err) => err instanceof AccountError && err.code === "not-found");
});

test("AccountDeleted resets the roster: a re-registered account begins empty", () => {
  juliet.given([registered, ...both(ROMEO), { type: "ContactsBlocked", payload: { jids: [TYBALT] } }, asked(NURSE),
    { type: "AccountDeleted", payload: { jid: ME, reason: "x" } }, registered])
    .when({ kind: "roster.set", jid: NURSE, name: undefined, groups: [] })
    .thenState((s) => s.account.exists && s.roster.items.size === 1 && s.roster.blocked.size === 0 && s.roster.pendingIn.size === 0,
      "registered, with only the nurse in the roster, nobody blocked, no request");
});

test("decide is pure: the state it was given is unchanged, and the same command gives the same decision", () => {
  const history = [registered, ...both(ROMEO)];
  const state = history.reduce(accountDecider.evolve, accountDecider.initialState);
  const items = [...state.roster.items.values()];
  const a = accountDecider.decide({ kind: "roster.remove", jid: ROMEO }, state, context);
  const b = accountDecider.decide({ kind: "roster.remove", jid: ROMEO }, state, context);
  assert.equal(a, b);
  assert.equal([...state.roster.items.values()], items);
});

// The former API, kept for callers not yet moved, answers as the decider does.

test("the former decisions agree with the decider", () => {
  const state = [...both(ROMEO), asked(NURSE)].reduce(accountDecider.evolve, accountDecider.initialState).roster;
  const remove = decideRosterRemove(state, ME, ROMEO);
  assert.equal(remove.sends, ["unsubscribed", "unsubscribe"]);
  assert.equal(remove.effects, [{ kind: "unavailableFromResources", to: ROMEO }]);
  assert.throws(() => decideRosterSet(state, ME, ME, undefined, []), (err: unknown) => err instanceof RosterError);
  assert.equal(decideBlock(state, [ROMEO, NURSE]).withdrawPresenceFrom, [ROMEO]);
  assert.equal(decideUnblock([{ type: "ContactsBlocked", payload: { jids: [ROMEO] } } as AccountStreamEvent].reduce(accountDecider.evolve, { account: accountDecider.initialState.account, roster: state }).roster, []).resendPresenceTo, [ROMEO]);
  assert.throws(() => decideBlock(state, []), (err: unknown) => err instanceof BlockingError);
  const approve = decideOutbound(state, "subscribed", NURSE);
  assert.equal([approve.pass, approve.effects], [true, [{ kind: "currentPresence", to: NURSE, orUnavailable: false }]]);
  const request = decideInbound(emptyRosterState, "subscribe", ROMEO, "<presence/>");
  assert.equal([request.pass, request.audience, request.effects], [true, "available", [{ kind: "presence", type: "unavailable", to: ROMEO }]]);
});

test("carryOut hands each effect, in order, to the handler of its kind", () => {
  const seen: string[] = [];
  const note = (e: AccountEffect) => { seen.push(e.kind === "presence" ? `presence ${e.type}` : e.kind); };
  const handlers: AccountEffectHandlers = {
    route: note, deliver: note, presence: note, currentPresence: note, unavailableFromResources: note,
    rosterPush: note, blocklistPush: note, kickSessions: note,
  };
  const state = both(ROMEO).reduce(accountDecider.evolve, accountDecider.initialState);
  carryOut(accountDecider.decide({ kind: "roster.remove", jid: ROMEO }, state, context).effects, handlers);
  assert.equal(seen, ["rosterPush", "presence unsubscribed", "unavailableFromResources", "presence unsubscribe"]);
});

test("limits are data: with no limits a large roster still grows", () => {
  const many = Array.from({ length: 50 }, (_, i) => item(`c${i}@example.com`));
  spec(accountDecider, { ...context, limits: NO_LIMITS }).given(many).when({ kind: "roster.set", jid: ROMEO, name: undefined, groups: [] })
    .then([{ type: "RosterItemSet", payload: { jid: ROMEO, groups: [] } }]);
});

test.run();
