// Presence for local users (RFC 6121 §4): broadcast of available and
// unavailable presence to the user's own resources and subscribers,
// directed presence, and delivery of inbound presence.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import type { AccountContext } from "../server/host.js";
import type { ResourceSession } from "../actors/account-runtime.js";
import { deliverOfflineMessages } from "./message.js";
import { parseFragment } from "../xml/fragment.js";
import { subscribersOf, subscriptionsOf, isContactSubscribed } from "../roster/subscription.js";
import { isBlocked } from "../blocking/blocklist.js";
import { inboundSubscription, outboundSubscription } from "./subscriptions.js";

function priorityOf(stanza: XmlElement): number {
  const text = stanza.getChildText("priority");
  if (text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  // RFC 6121 §4.7.2.3: an integer between -128 and +127.
  return Number.isFinite(n) ? Math.max(-128, Math.min(127, n)) : 0;
}

/** Presence a resource sent. `from` is already its full JID. */
export function presenceOutbound(ctx: AccountContext, resource: string, stanza: XmlElement): void {
  const session = ctx.runtime.sessions.get(resource);
  if (!session) return;
  const type = stanza.attrs.type;
  if (stanza.attrs.to !== undefined) {
    if (type === undefined || type === "unavailable") return directedPresence(ctx, session, stanza);
    if (type === "error") return ctx.host.route(stanza);
    return outboundSubscription(ctx, stanza);
  }
  if (type === undefined) return broadcastAvailable(ctx, session, stanza);
  if (type === "unavailable") return broadcastUnavailable(ctx, session, stanza);
  // A subscription-type presence without `to` has no meaning (RFC 6121 §3): ignore it.
}

function broadcastAvailable(ctx: AccountContext, session: ResourceSession, stanza: XmlElement): void {
  const initial = !session.available;
  session.available = true;
  session.priority = priorityOf(stanza);
  session.presence = stanza;
  session.presenceAt = ctx.host.now().toISOString();
  broadcast(ctx, session, stanza);
  if (initial) {
    // RFC 6121 §4.2.2: probe the contacts whose presence we receive.
    for (const contact of subscriptionsOf(ctx.runtime.roster)) {
      if (isBlocked(ctx.runtime.roster, contact)) continue;
      ctx.host.route(el("presence", NS.client, { type: "probe", from: session.fullJid, to: contact }));
    }
    // The user's other available resources introduce themselves to the new one.
    for (const other of ctx.runtime.availableSessions()) {
      if (other !== session && other.presence) session.session.send({ type: "deliver", stanza: other.presence.withAttrs({ to: session.fullJid }) });
    }
    // RFC 6121 §3.1.3: pending subscription requests are delivered again.
    for (const [contact, stored] of ctx.runtime.roster.pendingIn) {
      const request = parseFragment(stored);
      if (request) session.session.send({ type: "deliver", stanza: request.withAttrs({ from: contact }) });
    }
    // XEP-0160 §4: offline messages go to the first resource with non-negative priority.
    if (session.priority >= 0) deliverOfflineMessages(ctx, session.resource);
  }
}

function broadcastUnavailable(ctx: AccountContext, session: ResourceSession, stanza: XmlElement): void {
  if (!session.available) {
    // Still tell the user's own resources: harmless, and clients expect the echo.
    sendToOwnResources(ctx, stanza);
    return;
  }
  session.available = false;
  session.presence = undefined;
  session.presenceAt = undefined;
  broadcast(ctx, session, stanza);
  // XEP-0012: the account's last activity is when its last resource went away.
  if (ctx.runtime.availableSessions().length === 0) {
    ctx.host.lastActivity.wentOffline(ctx.runtime.bareJid, ctx.host.now(), stanza.getChildText("status"));
  }
  // RFC 6121 §4.6.3: whoever got directed presence learns we left.
  for (const to of session.directedTo) ctx.host.route(stanza.withAttrs({ to }));
  session.directedTo.clear();
}

/** To the user's available resources (the sender included) and to the subscribers. */
function broadcast(ctx: AccountContext, session: ResourceSession, stanza: XmlElement): void {
  sendToOwnResources(ctx, stanza);
  for (const contact of subscribersOf(ctx.runtime.roster)) {
    // XEP-0191: a blocked contact gets no presence, even as a subscriber.
    if (isBlocked(ctx.runtime.roster, contact)) continue;
    session.directedTo.delete(contact);
    ctx.host.route(stanza.withAttrs({ to: contact }));
  }
}

function sendToOwnResources(ctx: AccountContext, stanza: XmlElement): void {
  for (const s of ctx.runtime.sessions.values()) {
    if (s.available || s.fullJid === stanza.attrs.from) {
      s.session.send({ type: "deliver", stanza: stanza.withAttrs({ to: s.fullJid }) });
    }
  }
}

function directedPresence(ctx: AccountContext, session: ResourceSession, stanza: XmlElement): void {
  const to = stanza.attrs.to as string;
  if (stanza.attrs.type === "unavailable") session.directedTo.delete(to);
  else if (!isContactSubscribed(ctx.runtime.roster, to.split("/")[0] as string)) session.directedTo.add(to);
  ctx.host.route(stanza);
}

/** A session ended without unavailable presence: broadcast it on its behalf (RFC 6121 §4.5.2). */
export function sessionWentAway(ctx: AccountContext, session: ResourceSession): void {
  if (!session.available) return;
  broadcastUnavailable(ctx, session, el("presence", NS.client, { type: "unavailable", from: session.fullJid }));
}

/** Presence addressed to this user from anywhere. */
export function presenceInbound(ctx: AccountContext, stanza: XmlElement, toResource: string): void {
  const type = stanza.attrs.type;
  if (type !== undefined && type !== "unavailable" && type !== "error") {
    inboundSubscription(ctx, stanza);
    return;
  }
  if (toResource !== "") {
    // §4.6.3 / §8.5.3.2.2: presence to an absent full JID is dropped.
    ctx.runtime.deliver(toResource, stanza);
    return;
  }
  for (const s of ctx.runtime.availableSessions()) s.session.send({ type: "deliver", stanza });
}
