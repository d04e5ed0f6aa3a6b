// Server-generated presence that several modules send (subscriptions, roster
// removal, blocking): from the user's bare JID, each available resource's
// current presence (re-sent with a XEP-0203 delay stamp, since it was sent
// earlier), and unavailable from each resource.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import type { Account } from "./account.js";

export type Route = (stanza: XmlElement) => void;

export function sendFromBare(account: Account, route: Route, type: string, to: string): void {
  route(el("presence", NS.client, { type, from: account.bareJid, to }));
}

/** Each available resource's last presence, to `to`, stamped with when it was sent. */
export function sendCurrentPresence(account: Account, route: Route, to: string, orUnavailable: boolean): void {
  const domain = account.jid.domain;
  let sent = 0;
  for (const s of account.availableSessions()) {
    if (!s.presence) continue;
    route(s.presence
      .withoutChildren((c) => c.name === "delay" && c.ns === NS.delay)
      .withAttrs({ from: s.fullJid, to })
      .withChildren(el("delay", NS.delay, { from: domain, stamp: s.presenceAt })));
    sent++;
  }
  if (sent === 0 && orUnavailable) sendFromBare(account, route, "unavailable", to);
}

export function sendUnavailableFromResources(account: Account, route: Route, to: string): void {
  for (const s of account.availableSessions()) {
    route(el("presence", NS.client, { type: "unavailable", from: s.fullJid, to }));
  }
}
