// Presence subscription stanzas (RFC 6121 §3) and probes (§4.3) in both
// directions, wired to the pure decisions in roster/subscription.ts.
import type { XmlElement } from "../xml/element.js";
import { serialize } from "../xml/serialize.js";
import { NS } from "../xmpp/namespaces.js";
import { tryParseJid } from "../jid/jid.js";
import type { AccountContext } from "../server/host.js";
import { decideInbound, decideOutbound, decideProbe, type SubscriptionType } from "../roster/subscription.js";
import { decideAndCommit, itemsBefore, changedItems } from "./roster-store.js";
import { pushRosterItems } from "./roster.js";
import { runEffects } from "./subscription-effects.js";

const SUBSCRIPTION_TYPES = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type !== undefined && SUBSCRIPTION_TYPES.has(type);
}

function bareOf(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const jid = tryParseJid(address);
  return jid?.bareString();
}

/** A resource sent a subscription stanza or a probe to `to`. */
export function outboundSubscription(ctx: AccountContext, stanza: XmlElement): void {
  const type = stanza.attrs.type;
  const contact = bareOf(stanza.attrs.to);
  // Clients do not send probes (RFC 6121 §4.3); subscriptions to oneself are meaningless.
  if (!isSubscriptionType(type) || contact === undefined || contact === ctx.runtime.bareJid) return;
  const before = itemsBefore(ctx, [contact]);
  const d = decideAndCommit(ctx, { kind: "user", resource: ctx.requester.resource },
    () => decideOutbound(ctx.runtime.roster, type, contact));
  pushRosterItems(ctx, changedItems(ctx, before));
  // §3.1.2: the server stamps the bare JIDs on subscription stanzas.
  if (d.pass) ctx.host.route(stanza.withAttrs({ from: ctx.runtime.bareJid, to: contact }));
  runEffects(ctx, d.effects);
}

/** A subscription stanza or a probe from a contact reached this user. */
export function inboundSubscription(ctx: AccountContext, stanza: XmlElement): void {
  const type = stanza.attrs.type;
  const contact = bareOf(stanza.attrs.from);
  if (contact === undefined) return;
  if (type === "probe") {
    runEffects(ctx, decideProbe(ctx.runtime.roster, contact, stanza.attrs.from as string));
    return;
  }
  if (!isSubscriptionType(type)) return;
  const normalised = stanza.withAttrs({ from: contact, to: ctx.runtime.bareJid });
  const before = itemsBefore(ctx, [contact]);
  const d = decideAndCommit(ctx, { kind: "contact", jid: contact },
    () => decideInbound(ctx.runtime.roster, type, contact, serialize(normalised, NS.client)));
  if (d.pass) {
    for (const s of ctx.runtime.sessions.values()) {
      if (d.audience === "available" ? s.available : s.interested) {
        s.session.send({ type: "deliver", stanza: normalised });
      }
    }
  }
  pushRosterItems(ctx, changedItems(ctx, before));
  runEffects(ctx, d.effects);
}
