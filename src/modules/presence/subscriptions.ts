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

/**
 * Subscription stanzas from someone not in the user's roster: a token bucket
 * per (account, sender) with a burst of `perMinute`, refilled at `perMinute`
 * a minute. A stranger's subscribe/unsubscribe churn would otherwise append
 * events to the user's stream without end; contacts the user keeps are not
 * limited (their requests are the user's business).
 */
export class SubscriptionChurnLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly perMinute: number) {}

  admit(account: string, sender: string, nowMs: number): boolean {
    const key = `${account} ${sender}`;
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, at: nowMs };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((nowMs - bucket.at) / 60_000) * this.perMinute);
    bucket.at = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    // Bounded memory: full buckets carry no information and go first.
    if (this.buckets.size >= 100_000 && !this.buckets.has(key)) this.forgetFull(nowMs);
    this.buckets.set(key, bucket);
    return true;
  }

  private forgetFull(nowMs: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.at) / 60_000) * this.perMinute >= this.perMinute) this.buckets.delete(key);
    }
    if (this.buckets.size >= 100_000) this.buckets.clear();
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
  if (!account.roster.items.has(contact) && !churn.admit(account.bareJid, contact, api.now().getTime())) {
    api.log.warn("dropping subscription churn", { account: account.bareJid, contact, type });
    return;
  }
  const normalised = stanza.withAttrs({ from: contact, to: account.bareJid });
  const effects = api.accounts.execute(account,
    { kind: "subscription.in", type, contact, stanza: storedRequest(normalised, api.config.limits.subscriptionRequestBytes) }, by);
  api.accounts.carryOut(account, effects, normalised);
}
