// The destination for a served domain: stanzas to the domain itself (the
// `…/host` hooks and host IQs) and to its accounts (their actors, found or
// started through the account directory; no database read).
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { tryParseJid, type Jid } from "../jid/jid.js";
import type { StanzaHookName } from "./hooks.js";
import type { Destination } from "./router.js";
import type { KernelServices } from "./services.js";
import { dispatchHostIq } from "./iq-dispatch.js";

export interface LocalAccounts {
  exists(bareJid: string): boolean;
  /** Whether the account's actor runs (it does while the account has sessions). */
  running(bareJid: string): boolean;
  /** Hands a stanza to the account's actor (started on demand). */
  deliverInbound(bareJid: string, stanza: XmlElement, to: Jid): void;
}

export function localHostDestination(k: KernelServices, accounts: LocalAccounts): Destination {
  return {
    kind: "local host",
    accept(stanza: XmlElement, to: Jid): void {
      if (to.local === "") return toHost(k, stanza, to);
      const bare = to.bareString();
      if (!accounts.exists(bare)) return toUnknownUser(k, stanza, to, bare);
      // Available or unavailable presence for a user with no session reaches nobody
      // (RFC 6121 §4.5.4, §8.5.2.2): dropped here, without starting the user's actor
      // (a login's broadcast to a thousand offline contacts would start a thousand).
      if (stanza.name === "presence" && !accounts.running(bare)) {
        if (isPresenceUpdate(stanza)) return;
        const from = stanza.attrs.type === "probe" && stanza.attrs.from !== undefined ? tryParseJid(stanza.attrs.from) : undefined;
        if (from && k.hooks.fire("presence/probe-offline", { stanza, from, to })) return;
      }
      accounts.deliverInbound(bare, stanza, to);
    },
  };
}

function isPresenceUpdate(stanza: XmlElement): boolean {
  const type = stanza.attrs.type;
  return type === undefined || type === "unavailable";
}

function toHost(k: KernelServices, stanza: XmlElement, to: Jid): void {
  const from = stanza.attrs.from === undefined ? undefined : tryParseJid(stanza.attrs.from);
  if (!from) return;
  if (k.hooks.fire(`${stanza.name}/host` as StanzaHookName, { stanza, from, to })) return;
  if (stanza.name === "iq") return dispatchHostIq(k.hooks, k.router, k.log, stanza, from, to);
  if (stanza.name === "message") k.router.bounce(stanza, { condition: "service-unavailable" });
  // Presence to the server itself has no meaning here; dropped.
}

/** RFC 6121 §8.5.2.2 (messages, IQs) and §3.1.3/§4.3 (subscriptions, probes) for a user that does not exist. */
function toUnknownUser(k: KernelServices, stanza: XmlElement, to: Jid, bare: string): void {
  const from = stanza.attrs.from === undefined ? undefined : tryParseJid(stanza.attrs.from);
  if (from && k.hooks.fire(`${stanza.name}/unknown` as StanzaHookName, { stanza, from, to })) return;
  if (stanza.name === "presence") {
    const type = stanza.attrs.type;
    const from = stanza.attrs.from;
    if ((type === "subscribe" || type === "probe") && from !== undefined) {
      // "unsubscribed" tells the asker this contact will never share presence.
      k.router.route(el("presence", NS.client, { type: "unsubscribed", from: bare, to: from }));
    }
    return;
  }
  k.router.bounce(stanza, { condition: "service-unavailable" });
}
