// Presence subscription stanzas (RFC 6121 §3) and probes (§4.3) in both
// directions, as commands on the account's stream (src/accounts/decider:
// subscription.out, subscription.in, probe.in) whose effects say what is
// routed, delivered and pushed, in order.
import { serialize } from "../../xml/serialize.js";
import { NS } from "../../xmpp/namespaces.js";
import type { XmlElement } from "../../xml/element.js";

/** XEP-0172 User Nickname: what a client shows with a subscription request. */
const NS_NICK = "http://jabber.org/protocol/nick";
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

/**
 * What of a subscription request is kept for redelivery at login: RFC 6121
 * §3.1.3 asks for the complete stanza with its extended content (Prosody
 * issue #689: XEP-0379 pre-auth tokens ride in it), and so it is, up to
 * `subscription_request_bytes`. A larger one keeps only the status and
 * nickname a client shows, so that a stranger cannot grow someone's history
 * with huge requests.
 */
export function storedRequest(normalised: XmlElement, maxBytes: number): string {
  const whole = serialize(normalised, NS.client);
  if (Buffer.byteLength(whole) <= maxBytes) return whole;
  const kept = serialize(normalised.withoutChildren((c) => !((c.name === "status" && c.ns === NS.client) || (c.name === "nick" && c.ns === NS_NICK))), NS.client);
  return Buffer.byteLength(kept) <= maxBytes ? kept : serialize(normalised.withoutChildren(() => true), NS.client);
}

/** Inbound subscription changes per (account, contact) in the current minute. */
export class SubscriptionChurnLimit {
  private minute = 0;
  private readonly counts = new Map<string, number>();

  constructor(private readonly perMinute: number) {}

  admit(account: string, contact: string, nowMs: number): boolean {
    const minute = Math.floor(nowMs / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.counts.clear();
    }
    const key = `${account} ${contact}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    // Bounded: under a flood of distinct keys, start the window afresh.
    if (this.counts.size >= 100_000 && n === 1) this.counts.clear();
    this.counts.set(key, n);
    return n <= this.perMinute;
  }
}

/** A subscription stanza or a probe from a contact reached this user. */
export function inboundSubscription(api: ModuleApi, churn: SubscriptionChurnLimit, event: InboundStanza): void {
  const { stanza, account } = event;
  const type = stanza.attrs.type;
  const contact = event.from.bareString();
  const by = { kind: "contact" as const, jid: contact };
  if (type === "probe") {
    api.accounts.carryOut(account, api.accounts.execute(account, { kind: "probe.in", contact, from: event.from.toString() }, by));
    return;
  }
  if (!isSubscriptionType(type)) return;
  if (!churn.admit(account.bareJid, contact, api.now().getTime())) {
    api.log.warn("dropping subscription churn", { account: account.bareJid, contact, type });
    return;
  }
  const normalised = stanza.withAttrs({ from: contact, to: account.bareJid });
  const effects = api.accounts.execute(account,
    { kind: "subscription.in", type, contact, stanza: storedRequest(normalised, api.config.limits.subscriptionRequestBytes) }, by);
  api.accounts.carryOut(account, effects, normalised);
}
