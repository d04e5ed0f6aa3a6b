// Presence subscription stanzas (RFC 6121 §3) and probes (§4.3) in both
// directions, as commands on the account's stream (src/accounts/decider:
// subscription.out, subscription.in, probe.in) whose effects say what is
// routed, delivered and pushed, in order.
import { serialize } from "../../xml/serialize.js";
import { NS } from "../../xmpp/namespaces.js";
import type { ModuleApi } from "../../kernel/module-api.js";
import type { InboundStanza, OutboundStanza } from "../../kernel/events.js";
import type { SubscriptionType } from "../../accounts/decider/index.js";

const SUBSCRIPTION_TYPES = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type !== undefined && SUBSCRIPTION_TYPES.has(type);
}

/** A resource sent a subscription stanza (or a probe) to a contact. */
export function outboundSubscription(api: ModuleApi, event: OutboundStanza): void {
  const { stanza, account } = event;
  const type = stanza.attrs.type;
  // RFC 6121 §4.3 leaves probes to servers, but a client's probe is routed as
  // Prosody does: the contact's server answers it (and tells of a deleted account).
  if (type === "probe") return api.route(stanza);
  if (!isSubscriptionType(type)) return;
  const effects = api.accounts.execute(account,
    { kind: "subscription.out", type, contact: event.to.bareString() }, { kind: "user", resource: event.from.resource });
  api.accounts.carryOut(account, effects, stanza);
}

/** A subscription stanza or a probe from a contact reached this user. */
export function inboundSubscription(api: ModuleApi, event: InboundStanza): void {
  const { stanza, account } = event;
  const type = stanza.attrs.type;
  const contact = event.from.bareString();
  const by = { kind: "contact" as const, jid: contact };
  if (type === "probe") {
    api.accounts.carryOut(account, api.accounts.execute(account, { kind: "probe.in", contact, from: event.from.toString() }, by));
    return;
  }
  if (!isSubscriptionType(type)) return;
  const normalised = stanza.withAttrs({ from: contact, to: account.bareJid });
  const effects = api.accounts.execute(account,
    { kind: "subscription.in", type, contact, stanza: serialize(normalised, NS.client) }, by);
  api.accounts.carryOut(account, effects, normalised);
}
