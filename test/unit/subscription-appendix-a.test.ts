// RFC 6121 Appendix A as specifications: for each of the nine subscription
// states and each subscription stanza, outbound (sent by the user: routed?)
// and inbound (from the contact: delivered?), given the history that builds
// the state, when the stanza comes, then these events, this new state, and
// the stanza routed or delivered (or not). Decided by the account decider.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RosterEvent, RosterState } from "../../src/roster/roster-types.js";
import { accountDecider, NO_LIMITS, type AccountEffect, type AccountStreamEvent, type DecideContext, type SubscriptionType } from "../../src/accounts/decider/index.js";
import { spec } from "../helpers/decider-spec.js";

const USER = "user@example.com";
const C = "contact@example.com";
const STANZA = "<presence type='subscribe' from='contact@example.com' to='user@example.com'/>";
const context: DecideContext = { account: USER, now: "2026-12-02T12:00:00.000Z", by: { kind: "contact", jid: C }, limits: NO_LIMITS };
const decider = spec(accountDecider, context);

type EventType = RosterEvent["type"];
const ev = (type: EventType): AccountStreamEvent =>
  (type === "SubscriptionRequestReceived" ? { type, payload: { jid: C, stanza: STANZA } } : { type, payload: { jid: C } }) as AccountStreamEvent;

type StateName =
  | "None" | "None + Pending Out" | "None + Pending In" | "None + Pending Out/In"
  | "To" | "To + Pending In" | "From" | "From + Pending Out" | "Both";

const FROM: AccountStreamEvent[] = [ev("SubscriptionRequestReceived"), ev("ContactApproved")];
const HISTORY: Record<StateName, AccountStreamEvent[]> = {
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
/** [state, routed (outbound) or delivered (inbound), new state, the events decided] */
type Row = [StateName, boolean, StateName | typeof same, EventType[]];

// Server processing of outbound stanzas (A.2.x / A.3.x outbound): ROUTE? and NEW STATE.
// subscribe and unsubscribe are routed in every state (RFC 6121 §3.1.2, §3.3.2: they let
// a contact's server that lost state resynchronise; Prosody does the same).
const OUTBOUND: Record<SubscriptionType, Row[]> = {
  subscribe: [
    ["None", true, "None + Pending Out", ["SubscriptionRequested"]],
    ["None + Pending Out", true, same, []],
    ["None + Pending In", true, "None + Pending Out/In", ["SubscriptionRequested"]],
    ["None + Pending Out/In", true, same, []],
    ["To", true, same, []],
    ["To + Pending In", true, same, []],
    ["From", true, "From + Pending Out", ["SubscriptionRequested"]],
    ["From + Pending Out", true, same, []],
    ["Both", true, same, []],
  ],
  unsubscribe: [
    ["None", true, same, []],
    ["None + Pending Out", true, "None", ["SubscriptionCancelled"]],
    ["None + Pending In", true, same, []],
    ["None + Pending Out/In", true, "None + Pending In", ["SubscriptionCancelled"]],
    ["To", true, "None", ["SubscriptionCancelled"]],
    ["To + Pending In", true, "None + Pending In", ["SubscriptionCancelled"]],
    ["From", true, same, []],
    ["From + Pending Out", true, "From", ["SubscriptionCancelled"]],
    ["Both", true, "From", ["SubscriptionCancelled"]],
  ],
  // A.2.3 with §3.4: where there is no request to approve, a pre-approval is
  // stored (not routed; not one of the nine states, so "no state change").
  subscribed: [
    ["None", false, same, ["ContactPreApproved"]],
    ["None + Pending Out", false, same, ["ContactPreApproved"]],
    ["None + Pending In", true, "From", ["ContactApproved"]],
    ["None + Pending Out/In", true, "From + Pending Out", ["ContactApproved"]],
    ["To", false, same, ["ContactPreApproved"]],
    ["To + Pending In", true, "Both", ["ContactApproved"]],
    ["From", false, same, []],
    ["From + Pending Out", false, same, []],
    ["Both", false, same, []],
  ],
  unsubscribed: [
    ["None", false, same, []],
    ["None + Pending Out", false, same, []],
    ["None + Pending In", true, "None", ["ContactSubscriptionCancelled"]],
    ["None + Pending Out/In", true, "None + Pending Out", ["ContactSubscriptionCancelled"]],
    ["To", false, same, []],
    ["To + Pending In", true, "To", ["ContactSubscriptionCancelled"]],
    ["From", true, "None", ["ContactSubscriptionCancelled"]],
    ["From + Pending Out", true, "None + Pending Out", ["ContactSubscriptionCancelled"]],
    ["Both", true, "To", ["ContactSubscriptionCancelled"]],
  ],
};

// Server processing of inbound stanzas (A.2.x / A.3.x inbound): DELIVER? and NEW STATE.
const INBOUND: Record<SubscriptionType, Row[]> = {
  // "no *": the server answers `subscribed` itself (checked below).
  subscribe: [
    ["None", true, "None + Pending In", ["SubscriptionRequestReceived"]],
    ["None + Pending Out", true, "None + Pending Out/In", ["SubscriptionRequestReceived"]],
    ["None + Pending In", false, same, []],
    ["None + Pending Out/In", false, same, []],
    ["To", true, "To + Pending In", ["SubscriptionRequestReceived"]],
    ["To + Pending In", false, same, []],
    ["From", false, same, []],
    ["From + Pending Out", false, same, []],
    ["Both", false, same, []],
  ],
  unsubscribe: [
    ["None", false, same, []],
    ["None + Pending Out", false, same, []],
    ["None + Pending In", true, "None", ["ContactSubscriptionCancelled"]],
    ["None + Pending Out/In", true, "None + Pending Out", ["ContactSubscriptionCancelled"]],
    ["To", false, same, []],
    ["To + Pending In", true, "To", ["ContactSubscriptionCancelled"]],
    ["From", true, "None", ["ContactSubscriptionCancelled"]],
    ["From + Pending Out", true, "None + Pending Out", ["ContactSubscriptionCancelled"]],
    ["Both", true, "To", ["ContactSubscriptionCancelled"]],
  ],
  subscribed: [
    ["None", false, same, []],
    ["None + Pending Out", true, "To", ["SubscriptionGranted"]],
    ["None + Pending In", false, same, []],
    ["None + Pending Out/In", true, "To + Pending In", ["SubscriptionGranted"]],
    ["To", false, same, []],
    ["To + Pending In", false, same, []],
    ["From", false, same, []],
    ["From + Pending Out", true, "Both", ["SubscriptionGranted"]],
    ["Both", false, same, []],
  ],
  unsubscribed: [
    ["None", false, same, []],
    ["None + Pending Out", true, "None", ["SubscriptionCancelled"]],
    ["None + Pending In", false, same, []],
    ["None + Pending Out/In", true, "None + Pending In", ["SubscriptionCancelled"]],
    ["To", true, "None", ["SubscriptionCancelled"]],
    ["To + Pending In", true, "None + Pending In", ["SubscriptionCancelled"]],
    ["From", false, same, []],
    ["From + Pending Out", true, "From", ["SubscriptionCancelled"]],
    ["Both", true, "From", ["SubscriptionCancelled"]],
  ],
};

const routed = (effects: readonly unknown[]): boolean => (effects as AccountEffect[]).some((e) => e.kind === "route" && e.to === C);
const delivered = (effects: readonly unknown[]): boolean => (effects as AccountEffect[]).some((e) => e.kind === "deliver");

test("every history builds the state it is named after", () => {
  for (const name of STATES) {
    const state = HISTORY[name].reduce(accountDecider.evolve, accountDecider.initialState);
    assert.is(nameOf(state.roster), name);
  }
});

test("the tables cover every state for every type, once", () => {
  for (const table of [OUTBOUND, INBOUND]) {
    for (const rows of Object.values(table)) assert.equal(rows.map((r) => r[0]), STATES);
  }
});

for (const [type, rows] of Object.entries(OUTBOUND) as [SubscriptionType, Row[]][]) {
  for (const [from, route, to, events] of rows) {
    test(`A.2 outbound ${type} in "${from}": ${route ? "routed" : "not routed"}, ${to === same ? same : `→ "${to}"`}, [${events.join(", ")}]`, () => {
      decider.given(HISTORY[from]).when({ kind: "subscription.out", type, contact: C })
        .then(events.map(ev))
        .thenState((s) => nameOf(s.roster) === (to === same ? from : to), `in "${to === same ? from : to}"`)
        .thenEffects((fx) => routed(fx) === route, route ? "routed" : "not routed");
    });
  }
}

for (const [type, rows] of Object.entries(INBOUND) as [SubscriptionType, Row[]][]) {
  for (const [from, deliver, to, events] of rows) {
    test(`A.3 inbound ${type} in "${from}": ${deliver ? "delivered" : "not delivered"}, ${to === same ? same : `→ "${to}"`}, [${events.join(", ")}]`, () => {
      decider.given(HISTORY[from]).when({ kind: "subscription.in", type, contact: C, stanza: STANZA })
        .then(events.map(ev))
        .thenState((s) => nameOf(s.roster) === (to === same ? from : to), `in "${to === same ? from : to}"`)
        .thenEffects((fx) => delivered(fx) === deliver, deliver ? "delivered" : "not delivered");
    });
  }
}

test("the stanza itself goes out only as the tables say: a route effect names the contact, a deliver names its audience", () => {
  // §3.1.3: a subscription request goes to every available resource; the
  // other inbound stanzas to the interested ones (§3.1.6, §3.2.3, §3.3.3).
  decider.given([]).when({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA })
    .thenEffects((fx) => fx.some((e) => (e as AccountEffect).kind === "deliver" && (e as { audience?: string }).audience === "available"), "delivered to available resources");
  for (const [type, history] of [["subscribed", HISTORY["None + Pending Out"]], ["unsubscribe", HISTORY.From], ["unsubscribed", HISTORY.To]] as const) {
    decider.given(history).when({ kind: "subscription.in", type, contact: C, stanza: STANZA })
      .thenEffects((fx) => fx.some((e) => (e as AccountEffect).kind === "deliver" && (e as { audience?: string }).audience === "interested"), "delivered to interested resources");
  }
});

// The order of what the server sends, as the modules have sent it.

test("outbound subscribe: the roster push (ask='subscribe') before the routed request", () => {
  decider.given([]).when({ kind: "subscription.out", type: "subscribe", contact: C })
    .thenEffects([{ kind: "rosterPush", jids: [C] }, { kind: "route", to: C }]);
});

test("§3.1.5 approval: push, route, current presence; then a probe when the user is subscribed to the contact", () => {
  decider.given(HISTORY["None + Pending In"]).when({ kind: "subscription.out", type: "subscribed", contact: C })
    .thenEffects([{ kind: "rosterPush", jids: [C] }, { kind: "route", to: C }, { kind: "currentPresence", to: C, orUnavailable: false }]);
  decider.given(HISTORY["To + Pending In"]).when({ kind: "subscription.out", type: "subscribed", contact: C })
    .thenEffects([
      { kind: "rosterPush", jids: [C] }, { kind: "route", to: C },
      { kind: "currentPresence", to: C, orUnavailable: false }, { kind: "presence", type: "probe", to: C },
    ]);
});

test("§3.2.2 revoking: push, route, then unavailable from each resource; refusing a request sends no unavailables", () => {
  decider.given(HISTORY.Both).when({ kind: "subscription.out", type: "unsubscribed", contact: C })
    .thenEffects([{ kind: "rosterPush", jids: [C] }, { kind: "route", to: C }, { kind: "unavailableFromResources", to: C }]);
  // A pending-in request has no roster item to push: only the refusal goes.
  decider.given(HISTORY["None + Pending In"]).when({ kind: "subscription.out", type: "unsubscribed", contact: C })
    .thenEffects([{ kind: "route", to: C }]);
});

test("inbound subscribe: delivered, then acknowledged with unavailable from the bare JID (Prosody); a repeat is only acknowledged", () => {
  decider.given([]).when({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA })
    .then([{ type: "SubscriptionRequestReceived", payload: { jid: C, stanza: STANZA } }])
    .thenEffects([{ kind: "deliver", audience: "available" }, { kind: "presence", type: "unavailable", to: C }]);
  decider.given(HISTORY["None + Pending In"]).when({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA })
    .then([])
    .thenEffects([{ kind: "presence", type: "unavailable", to: C }]);
});

test('A.3 inbound subscribe from a contact already subscribed ("no *"): the server replies subscribed, then current presence or unavailable', () => {
  for (const name of ["From", "From + Pending Out", "Both"] as StateName[]) {
    decider.given(HISTORY[name]).when({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA })
      .then([])
      .thenEffects([{ kind: "presence", type: "subscribed", to: C }, { kind: "currentPresence", to: C, orUnavailable: true }]);
  }
});

test("inbound subscribed: delivered to interested resources, then the push (subscription='to')", () => {
  decider.given(HISTORY["None + Pending Out"]).when({ kind: "subscription.in", type: "subscribed", contact: C, stanza: STANZA })
    .thenEffects([{ kind: "deliver", audience: "interested" }, { kind: "rosterPush", jids: [C] }]);
});

test("§3.4 pre-approval: outbound subscribed without a request, then the contact's subscribe is approved automatically", () => {
  decider.given([]).when({ kind: "subscription.out", type: "subscribed", contact: C })
    .then([ev("ContactPreApproved")])
    .thenEffects([{ kind: "rosterPush", jids: [C] }])
    .thenState((s) => s.roster.items.get(C)?.approved === true, "pre-approved");
  const preApproved = [ev("ContactPreApproved")];
  decider.given(preApproved).when({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA })
    .then([ev("ContactApproved")])
    .thenState((s) => nameOf(s.roster) === "From" && s.roster.items.get(C)?.approved === false, 'in "From", the pre-approval used')
    // Not delivered: it was approved in advance.
    .thenEffects([{ kind: "rosterPush", jids: [C] }, { kind: "presence", type: "subscribed", to: C }, { kind: "currentPresence", to: C, orUnavailable: false }]);
  // A second outbound subscribed changes nothing.
  decider.given(preApproved).when({ kind: "subscription.out", type: "subscribed", contact: C }).then([]).thenEffects([]);
  // An outbound unsubscribed cancels a pre-approval without routing anything.
  decider.given(preApproved).when({ kind: "subscription.out", type: "unsubscribed", contact: C })
    .then([ev("ContactSubscriptionCancelled")])
    .thenEffects((fx) => !routed(fx), "not routed")
    .thenState((s) => s.roster.items.get(C)?.approved === false, "no longer pre-approved");
});

test("§4.3.2 probes: a subscriber gets the current presence (or unavailable) at the probing resource; anyone else gets unsubscribed", () => {
  const from = `${C}/balcony`;
  decider.given(HISTORY.From).when({ kind: "probe.in", contact: C, from })
    .then([]).thenEffects([{ kind: "currentPresence", to: from, orUnavailable: true }]);
  for (const name of ["None", "To", "None + Pending In"] as StateName[]) {
    decider.given(HISTORY[name]).when({ kind: "probe.in", contact: C, from })
      .then([]).thenEffects([{ kind: "presence", type: "unsubscribed", to: C }]);
  }
});

test("the events carry the cause and the time of the context", () => {
  const d = accountDecider.decide({ kind: "subscription.in", type: "subscribe", contact: C, stanza: STANZA }, accountDecider.initialState, context);
  assert.equal(d.events.map((e) => e.meta), [{ by: { kind: "contact", jid: C }, at: "2026-12-02T12:00:00.000Z" }]);
});

test.run();
