// Presence for local users (RFC 6121 §4): broadcast of available and
// unavailable presence to the user's own resources and subscribers,
// directed presence, delivery of inbound presence, and (subscriptions.ts)
// the subscription stanzas and probes of RFC 6121 §3 and §4.3.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { errorReply } from "../../xmpp/errors.js";
import { parseFragment } from "../../xml/fragment.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Account, ResourceSession, SessionSlot } from "../../kernel/account.js";
import type { InboundStanza, OutboundStanza } from "../../kernel/events.js";
import type { Jid } from "../../jid/jid.js";
import { subscribersOf, subscriptionsOf, isContactSubscribed } from "../../roster/subscription.js";
import { isBlocked, isContactBlocked } from "../../blocking/blocklist.js";
import { decideProbeIn } from "../../accounts/decider/subscription.js";
import type { RosterState, Subscription } from "../../roster/roster-types.js";
import { inboundSubscription, outboundSubscription, SubscriptionChurnLimit } from "./subscriptions.js";

function priorityOf(stanza: XmlElement): number {
  const text = stanza.getChildText("priority");
  if (text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  // RFC 6121 §4.7.2.3: an integer between -128 and +127.
  return Number.isFinite(n) ? Math.max(-128, Math.min(127, n)) : 0;
}

/** Full or bare JIDs a resource sent directed presence to (RFC 6121 §4.6). */
type DirectedTo = SessionSlot<Set<string>>;

function sendToOwnResources(account: Account, stanza: XmlElement): void {
  for (const s of account.sessions.values()) {
    if (s.available || s.fullJid === stanza.attrs.from) {
      s.session.send({ type: "deliver", stanza: stanza.withAttrs({ to: s.fullJid }) });
    }
  }
}

/** The resource's broadcast still going out to its subscribers, if any (see broadcast). */
type BroadcastInFlight = SessionSlot<{ generation: number }>;

/**
 * Broadcasts to the subscribers go out BROADCAST_PER_TURN at a time, one batch
 * per event-loop turn: an account with a hundred thousand subscribers must not
 * hold every other client up while its login's presence goes out (bounded
 * work per turn, issue 12). A newer broadcast of the same resource replaces
 * the rest of an older one: each contact gets the resource's stanzas in the
 * order it sent them, and the ones the older had not reached yet get only the
 * newer (the current presence).
 */
const BROADCAST_PER_TURN = 100;

/** To the user's available resources (the sender included) and to the subscribers. */
function broadcast(api: ModuleApi, directed: DirectedTo, inFlight: BroadcastInFlight, account: Account, session: ResourceSession, stanza: XmlElement): void {
  sendToOwnResources(account, stanza);
  const job = inFlight.get(session);
  const generation = ++job.generation;
  const contacts = subscribersOf(account.roster);
  // Subscribers hear of this resource through the broadcast from now on, not as
  // targets of its directed presence (RFC 6121 §4.6): the set is small, the roster may not be.
  const targets = directed.get(session);
  for (const target of targets) {
    const item = account.roster.items.get(target);
    if (item && (item.subscription === "from" || item.subscription === "both") && !isContactBlocked(account.roster, target)) targets.delete(target);
  }
  const step = (from: number): void => {
    if (job.generation !== generation) return; // replaced by a newer broadcast
    const end = Math.min(contacts.length, from + BROADCAST_PER_TURN);
    for (let i = from; i < end; i++) {
      const contact = contacts[i] as string;
      // Checked as the batch goes out: a contact blocked or unsubscribed meanwhile
      // was already told (XEP-0191 §3.3, RFC 6121 §3.2) and gets nothing more.
      const item = account.roster.items.get(contact);
      if (!item || (item.subscription !== "from" && item.subscription !== "both")) continue;
      // XEP-0191: a blocked contact gets no presence, even as a subscriber.
      if (isContactBlocked(account.roster, contact)) continue;
      api.route(stanza.withAttrs({ to: contact }));
    }
    if (end < contacts.length) setImmediate(() => step(end));
  };
  step(0);
}

function broadcastAvailable(api: ModuleApi, directed: DirectedTo, inFlight: BroadcastInFlight, account: Account, session: ResourceSession, stanza: XmlElement): void {
  const initial = !session.available;
  session.available = true;
  session.priority = priorityOf(stanza);
  session.presence = stanza;
  session.presenceAt = api.now().toISOString();
  broadcast(api, directed, inFlight, account, session, stanza);
  if (!initial) return;
  // RFC 6121 §4.2.2: probe the contacts whose presence we receive.
  probeInTurns(api, account, session, subscriptionsOf(account.roster).filter((c) => !isContactBlocked(account.roster, c)));
  // The user's other available resources introduce themselves to the new one.
  for (const other of account.availableSessions()) {
    if (other !== session && other.presence) session.session.send({ type: "deliver", stanza: other.presence.withAttrs({ to: session.fullJid }) });
  }
  // RFC 6121 §3.1.3: pending subscription requests are delivered again.
  for (const [contact, stored] of account.roster.pendingIn) {
    const request = parseFragment(stored);
    if (request) session.session.send({ type: "deliver", stanza: request.withAttrs({ from: contact }) });
  }
  api.fire("presence/initial", { account, session, stanza });
}

/**
 * Probes go out PROBES_PER_TURN at a time, one batch per event-loop turn: a
 * local contact's probe may start its account actor (a fold of its history),
 * and a login with a thousand contacts must not hold every other client up
 * for all of them (bounded work per turn). Stops if the session goes away.
 */
const PROBES_PER_TURN = 50;

function probeInTurns(api: ModuleApi, account: Account, session: ResourceSession, contacts: readonly string[], from = 0): void {
  const end = Math.min(contacts.length, from + PROBES_PER_TURN);
  for (let i = from; i < end; i++) {
    api.route(el("presence", NS.client, { type: "probe", from: session.fullJid, to: contacts[i] as string }));
  }
  if (end < contacts.length) {
    setImmediate(() => api.accounts.later(account, () => {
      if (account.sessions.get(session.resource) === session && session.available) probeInTurns(api, account, session, contacts, end);
    }));
  }
}

function broadcastUnavailable(api: ModuleApi, directed: DirectedTo, inFlight: BroadcastInFlight, account: Account, session: ResourceSession, stanza: XmlElement): void {
  if (!session.available) {
    // Still tell the user's own resources: harmless, and clients expect the echo.
    sendToOwnResources(account, stanza);
    return;
  }
  session.available = false;
  session.presence = undefined;
  session.presenceAt = undefined;
  broadcast(api, directed, inFlight, account, session, stanza);
  api.fire("presence/unavailable", { account, session, stanza });
  // RFC 6121 §4.6.3: whoever got directed presence learns we left.
  const targets = directed.get(session);
  for (const to of targets) api.route(stanza.withAttrs({ to }));
  targets.clear();
}

function directedPresence(api: ModuleApi, directed: DirectedTo, event: OutboundStanza): void {
  const { stanza, to, account, session } = event;
  const target = to.toString();
  const targets = directed.get(session);
  if (stanza.attrs.type === "unavailable") targets.delete(target);
  else if (!isContactSubscribed(account.roster, to.bareString()) && !targets.has(target)) {
    const limit = api.config.limits.directedPresencePerSession;
    if (targets.size >= limit) {
      // Bounded bookkeeping: beyond the limit we could not tell them when this session leaves.
      session.session.send({ type: "deliver", stanza: errorReply(stanza, { condition: "resource-constraint",
        text: `A session may send directed presence to at most ${limit} addresses` }, account.jid.domain) });
      return;
    }
    targets.add(target);
  }
  api.route(stanza);
}

/** Presence a resource sent: a broadcast (no `to`), directed presence, or a subscription stanza. */
function outbound(api: ModuleApi, directed: DirectedTo, inFlight: BroadcastInFlight, event: OutboundStanza): typeof HANDLED {
  const { stanza, account, session } = event;
  const type = stanza.attrs.type;
  if (event.addressed) {
    if (type === undefined || type === "unavailable") directedPresence(api, directed, event);
    else if (type === "error") api.route(stanza);
    else outboundSubscription(api, event);
    return HANDLED;
  }
  if (type === undefined) broadcastAvailable(api, directed, inFlight, account, session, stanza);
  else if (type === "unavailable") broadcastUnavailable(api, directed, inFlight, account, session, stanza);
  // A subscription-type presence without `to` has no meaning (RFC 6121 §3): ignored.
  return HANDLED;
}

/** Presence addressed to this user: subscription stanzas and probes here, the rest to the kernel's delivery. */
function inbound(api: ModuleApi, churn: SubscriptionChurnLimit, event: InboundStanza): typeof HANDLED | undefined {
  const type = event.stanza.attrs.type;
  if (type === undefined || type === "unavailable" || type === "error") return undefined;
  inboundSubscription(api, churn, event);
  return HANDLED;
}

/**
 * RFC 6121 §4.3.2 for a contact with no session, from the read model (the
 * roster and block-list projections, two indexed lookups) instead of starting
 * the contact's actor to fold its history: a login's probes to a thousand
 * offline contacts cost a thousand lookups, not a thousand folds. The rules
 * are the same functions the actor would use (XEP-0191 matching, the
 * decider's probe.in) on the two rows that matter.
 */
function probeAnswerer(api: ModuleApi) {
  const item = api.db.prepare("SELECT subscription FROM roster_items WHERE account = ? AND jid = ?");
  // The entries isBlocked could match for this sender (§3.3's four forms), by the primary key.
  const blocked = api.db.prepare("SELECT jid FROM blocklist WHERE account = ? AND jid IN (?, ?, ?, ?)");
  return ({ from, to }: { from: Jid; to: Jid }): typeof HANDLED => {
    const account = to.bareString();
    const prober = from.bareString();
    const forms = [from.toString(), prober, `${from.domain}/${from.resource}`, from.domain];
    const row = item.get(account, prober) as { subscription: Subscription } | undefined;
    const roster: RosterState = {
      items: row ? new Map([[prober, { jid: prober, groups: [], subscription: row.subscription, ask: false, approved: false }]]) : new Map(),
      pendingIn: new Map(),
      version: 0,
      blocked: new Set((blocked.all(account, ...forms) as { jid: string }[]).map((r) => r.jid)),
    };
    if (isBlocked(roster, from)) return HANDLED; // §3.5: presence from a blocked JID is dropped
    for (const e of decideProbeIn(roster, prober, from.toString()).effects) {
      // No session: "current presence" is the unavailable from the bare JID.
      if (e.kind === "currentPresence") api.route(el("presence", NS.client, { type: "unavailable", from: account, to: e.to }));
      else if (e.kind === "presence") api.route(el("presence", NS.client, { type: e.type, from: account, to: e.to }));
    }
    return HANDLED;
  };
}

export const presence: ParleyModule = {
  name: "presence",
  load(api) {
    api.hook("presence/probe-offline", probeAnswerer(api));
    const directed: DirectedTo = api.sessionData(() => new Set<string>());
    const inFlight: BroadcastInFlight = api.sessionData(() => ({ generation: 0 }));
    for (const kind of ["bare", "full", "host"] as const) {
      api.hook(`pre-presence/${kind}`, (e) => outbound(api, directed, inFlight, e));
    }
    // RFC 6121 §3.4.1: subscription pre-approval.
    api.hook("stream-features", ({ stage, features }) => { if (stage === "post-auth") features.push(el("sub", NS.preApproval)); });
    const churn = new SubscriptionChurnLimit(api.config.limits.subscriptionChangesPerContactPerMinute);
    api.hook("presence/bare", (e) => inbound(api, churn, e));
    api.hook("presence/full", (e) => inbound(api, churn, e));
    // A session ended without unavailable presence: broadcast it on its behalf (RFC 6121 §4.5.2),
    // and whoever got directed presence from it learns it left (§4.6.3), even if it never
    // sent initial presence; each exactly once (the set is emptied as it is told).
    api.hook("resource-unbind", ({ account, session }) => {
      const unavailable = el("presence", NS.client, { type: "unavailable", from: session.fullJid });
      if (session.available) return void broadcastUnavailable(api, directed, inFlight, account, session, unavailable);
      const targets = directed.get(session);
      for (const to of targets) api.route(unavailable.withAttrs({ to }));
      targets.clear();
    }, 100);
  },
};
