// Presence subscription stanzas (RFC 6121 §3) and probes (§4.3) in both
// directions, wired to the pure decisions in roster/subscription.ts.
import { serialize } from "../../xml/serialize.js";
import { NS } from "../../xmpp/namespaces.js";
import type { ModuleApi } from "../../kernel/module-api.js";
import type { InboundStanza, OutboundStanza } from "../../kernel/events.js";
import { runEffects } from "../../kernel/presence-effects.js";
import { changedItems, itemsBefore } from "../../roster/roster-evolve.js";
import { decideInbound, decideOutbound, decideProbe, type SubscriptionType } from "../../roster/subscription.js";

const SUBSCRIPTION_TYPES = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type !== undefined && SUBSCRIPTION_TYPES.has(type);
}

/** A resource sent a subscription stanza to a contact. */
export function outboundSubscription(api: ModuleApi, event: OutboundStanza): void {
  const { stanza, account } = event;
  const type = stanza.attrs.type;
  const contact = event.to.bareString();
  // RFC 6121 §4.3 leaves probes to servers, but a client's probe is routed as
  // Prosody does: the contact's server answers it (and tells of a deleted account).
  if (type === "probe") return api.route(stanza);
  // Subscriptions to oneself are meaningless.
  if (!isSubscriptionType(type) || contact === account.bareJid) return;
  const before = itemsBefore(account.roster, [contact]);
  const d = api.accounts.commit(account, { kind: "user", resource: event.from.resource },
    (roster) => decideOutbound(roster, type, contact));
  api.fire("roster/changed", { account, jids: changedItems(before, account.roster) });
  // §3.1.2: the server stamps the bare JIDs on subscription stanzas.
  if (d.pass) api.route(stanza.withAttrs({ from: account.bareJid, to: contact }));
  runEffects(account, api.route, d.effects);
}

/** A subscription stanza or a probe from a contact reached this user. */
export function inboundSubscription(api: ModuleApi, event: InboundStanza): void {
  const { stanza, account } = event;
  const type = stanza.attrs.type;
  const contact = event.from.bareString();
  if (type === "probe") {
    runEffects(account, api.route, decideProbe(account.roster, contact, event.from.toString()));
    return;
  }
  if (!isSubscriptionType(type)) return;
  const normalised = stanza.withAttrs({ from: contact, to: account.bareJid });
  const before = itemsBefore(account.roster, [contact]);
  const d = api.accounts.commit(account, { kind: "contact", jid: contact },
    (roster) => decideInbound(roster, type, contact, serialize(normalised, NS.client)));
  if (d.pass) {
    for (const s of account.sessions.values()) {
      if (d.audience === "available" ? s.available : s.interested) s.session.send({ type: "deliver", stanza: normalised });
    }
  }
  api.fire("roster/changed", { account, jids: changedItems(before, account.roster) });
  runEffects(account, api.route, d.effects);
}
