// Carrying out what the subscription decisions ask for: server-generated
// presence from the user's bare JID, the current presence of the user's
// available resources (re-sent with a XEP-0203 delay stamp, since it was
// sent earlier), and unavailable presence from each resource.
import { el } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import type { AccountScope } from "../server/host.js";
import type { Effect } from "../roster/subscription.js";

export function sendFromBare(scope: AccountScope, type: string, to: string): void {
  scope.host.route(el("presence", NS.client, { type, from: scope.runtime.bareJid, to }));
}

/** Each available resource's last presence, to `to`, stamped with when it was sent. */
export function sendCurrentPresence(scope: AccountScope, to: string, orUnavailable: boolean): void {
  const domain = scope.runtime.jid.domain;
  let sent = 0;
  for (const s of scope.runtime.availableSessions()) {
    if (!s.presence) continue;
    const stamped = s.presence
      .withoutChildren((c) => c.name === "delay" && c.ns === NS.delay)
      .withAttrs({ from: s.fullJid, to })
      .withChildren(el("delay", NS.delay, { from: domain, stamp: s.presenceAt }));
    scope.host.route(stamped);
    sent++;
  }
  if (sent === 0 && orUnavailable) sendFromBare(scope, "unavailable", to);
}

export function sendUnavailableFromResources(scope: AccountScope, to: string): void {
  for (const s of scope.runtime.availableSessions()) {
    scope.host.route(el("presence", NS.client, { type: "unavailable", from: s.fullJid, to }));
  }
}

export function runEffects(scope: AccountScope, effects: readonly Effect[]): void {
  for (const e of effects) {
    switch (e.kind) {
      case "presence":
        sendFromBare(scope, e.type, e.to);
        break;
      case "currentPresence":
        sendCurrentPresence(scope, e.to, e.orUnavailable);
        break;
      case "unavailableFromResources":
        sendUnavailableFromResources(scope, e.to);
        break;
    }
  }
}
