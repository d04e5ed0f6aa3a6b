// RFC 6121 Appendix A as data: for each of the nine subscription states and
// each subscription stanza, outbound (sent by the user: routed?) and inbound
// (from the contact: delivered?), the new state. Built from events, decided
// by the pure functions in src/roster/subscription.ts, folded by evolve.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emptyRosterState, type RosterEvent, type RosterState } from "../../src/roster/roster-types.js";
import { foldRoster } from "../../src/roster/roster-evolve.js";
import { decideInbound, decideOutbound, type SubscriptionType } from "../../src/roster/subscription.js";

const C = "contact@example.com";
const ev = (type: RosterEvent["type"]): RosterEvent =>
  (type === "SubscriptionRequestReceived" ? { type, payload: { jid: C, stanza: "<presence type='subscribe'/>" } } : { type, payload: { jid: C } }) as RosterEvent;

type StateName =
  | "None" | "None + Pending Out" | "None + Pending In" | "None + Pending Out/In"
  | "To" | "To + Pending In" | "From" | "From + Pending Out" | "Both";

const FROM: RosterEvent[] = [ev("SubscriptionRequestReceived"), ev("ContactApproved")];
const HISTORY: Record<StateName, RosterEvent[]> = {
  "None": [],
  "None + Pending Out": [ev("SubscriptionRequested")],
  "None + Pending In": [ev("SubscriptionRequestReceived")],
  "None + Pending Out/In": [ev("SubscriptionRequested"), ev("SubscriptionRequestReceived")],
  "To": [ev("SubscriptionRequested"), ev("SubscriptionGranted")],
  "To + Pending In": [ev("SubscriptionRequested"), ev("SubscriptionGranted"), ev("SubscriptionRequestReceived")],
  "From": FROM,
  "From + Pending Out": [...FROM, ev("SubscriptionRequested")],
  "Both": [...FROM, ev("SubscriptionRequested"), ev("SubscriptionGranted")],
};

function nameOf(state: RosterState): StateName {
  const item = state.items.get(C);
  const sub = item?.subscription ?? "none";
  const out = item?.ask === true;
  const inn = state.pendingIn.has(C);
  const base = { none: "None", to: "To", from: "From", both: "Both" }[sub];
  if (out && inn) return `${base} + Pending Out/In` as StateName;
  if (out) return `${base} + Pending Out` as StateName;
  if (inn) return `${base} + Pending In` as StateName;
  return base as StateName;
}

const STATES = Object.keys(HISTORY) as StateName[];
const same = "no state change";
type Row = [StateName, boolean, StateName | typeof same];

// Server processing of outbound stanzas: ROUTE? and NEW STATE.
// subscribe and unsubscribe are routed in every state (RFC 6121 §3.1.2, §3.3.2: they let
// a contact's server that lost state resynchronise; Prosody does the same).
const OUTBOUND: Record<SubscriptionType, Row[]> = {
  subscribe: [
    ["None", true, "None + Pending Out"], ["None + Pending Out", true, same],
    ["None + Pending In", true, "None + Pending Out/In"], ["None + Pending Out/In", true, same],
    ["To", true, same], ["To + Pending In", true, same],
    ["From", true, "From + Pending Out"], ["From + Pending Out", true, same], ["Both", true, same],
  ],
  unsubscribe: [
    ["None", true, same], ["None + Pending Out", true, "None"],
    ["None + Pending In", true, same], ["None + Pending Out/In", true, "None + Pending In"],
    ["To", true, "None"], ["To + Pending In", true, "None + Pending In"],
    ["From", true, same], ["From + Pending Out", true, "From"], ["Both", true, "From"],
  ],
  // A.2.3 with §3.4: where there is no request to approve, a pre-approval is stored (not routed).
  subscribed: [
    ["None", false, same], ["None + Pending Out", false, same],
    ["None + Pending In", true, "From"], ["None + Pending Out/In", true, "From + Pending Out"],
    ["To", false, same], ["To + Pending In", true, "Both"],
    ["From", false, same], ["From + Pending Out", false, same], ["Both", false, same],
  ],
  unsubscribed: [
    ["None", false, same], ["None + Pending Out", false, same],
    ["None + Pending In", true, "None"], ["None + Pending Out/In", true, "None + Pending Out"],
    ["To", false, same], ["To + Pending In", true, "To"],
    ["From", true, "None"], ["From + Pending Out", true, "None + Pending Out"], ["Both", true, "To"],
  ],
};

// Server processing of inbound stanzas: DELIVER? and NEW STATE.
const INBOUND: Record<SubscriptionType, Row[]> = {
  // "no *": the server answers `subscribed` itself (checked below).
  subscribe: [
    ["None", true, "None + Pending In"], ["None + Pending Out", true, "None + Pending Out/In"],
    ["None + Pending In", false, same], ["None + Pending Out/In", false, same],
    ["To", true, "To + Pending In"], ["To + Pending In", false, same],
    ["From", false, same], ["From + Pending Out", false, same], ["Both", false, same],
  ],
  unsubscribe: [
    ["None", false, same], ["None + Pending Out", false, same],
    ["None + Pending In", true, "None"], ["None + Pending Out/In", true, "None + Pending Out"],
    ["To", false, same], ["To + Pending In", true, "To"],
    ["From", true, "None"], ["From + Pending Out", true, "None + Pending Out"], ["Both", true, "To"],
  ],
  subscribed: [
    ["None", false, same], ["None + Pending Out", true, "To"],
    ["None + Pending In", false, same], ["None + Pending Out/In", true, "To + Pending In"],
    ["To", false, same], ["To + Pending In", false, same],
    ["From", false, same], ["From + Pending Out", true, "Both"], ["Both", false, same],
  ],
  unsubscribed: [
    ["None", false, same], ["None + Pending Out", true, "None"],
    ["None + Pending In", false, same], ["None + Pending Out/In", true, "None + Pending In"],
    ["To", true, "None"], ["To + Pending In", true, "None + Pending In"],
    ["From", false, same], ["From + Pending Out", true, "From"], ["Both", true, "From"],
  ],
};

test("every history builds the state it is named after", () => {
  for (const name of STATES) assert.is(nameOf(foldRoster(HISTORY[name], emptyRosterState)), name);
});

for (const [type, rows] of Object.entries(OUTBOUND) as [SubscriptionType, Row[]][]) {
  for (const [from, route, to] of rows) {
    test(`A.2 outbound ${type} in "${from}": ${route ? "routed" : "not routed"}, ${to === same ? same : `→ "${to}"`}`, () => {
      const before = foldRoster(HISTORY[from], emptyRosterState);
      const d = decideOutbound(before, type, C);
      assert.is(d.pass, route);
      assert.is(nameOf(foldRoster(d.events, before)), to === same ? from : to);
    });
  }
}

for (const [type, rows] of Object.entries(INBOUND) as [SubscriptionType, Row[]][]) {
  for (const [from, deliver, to] of rows) {
    test(`A.3 inbound ${type} in "${from}": ${deliver ? "delivered" : "not delivered"}, ${to === same ? same : `→ "${to}"`}`, () => {
      const before = foldRoster(HISTORY[from], emptyRosterState);
      const d = decideInbound(before, type, C, "<presence type='subscribe'/>");
      assert.is(d.pass, deliver);
      assert.is(nameOf(foldRoster(d.events, before)), to === same ? from : to);
    });
  }
}

test('A.3 inbound subscribe from a contact already subscribed ("no *"): the server replies subscribed', () => {
  for (const name of ["From", "From + Pending Out", "Both"] as StateName[]) {
    const d = decideInbound(foldRoster(HISTORY[name], emptyRosterState), "subscribe", C, "<presence/>");
    assert.ok(d.effects.some((e) => e.kind === "presence" && e.type === "subscribed" && e.to === C), name);
  }
});

test("§3.4 pre-approval: outbound subscribed without a request, then the contact's subscribe is approved automatically", () => {
  const pre = decideOutbound(emptyRosterState, "subscribed", C);
  assert.equal(pre.events.map((e) => e.type), ["ContactPreApproved"]);
  const state = foldRoster(pre.events, emptyRosterState);
  const d = decideInbound(state, "subscribe", C, "<presence/>");
  assert.is(d.pass, false, "the request is not delivered: it was approved in advance");
  assert.is(nameOf(foldRoster(d.events, state)), "From");
  assert.ok(d.effects.some((e) => e.kind === "presence" && e.type === "subscribed"));
  // An outbound unsubscribed cancels a pre-approval without routing anything.
  const cancel = decideOutbound(state, "unsubscribed", C);
  assert.is(cancel.pass, false);
  assert.is(foldRoster(cancel.events, state).items.get(C)?.approved, false);
});

test.run();
