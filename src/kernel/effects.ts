// Carrying out an account decision's effects (src/accounts/decider/effects.ts),
// in the order the decider gave them: the stanzas a client sees, in order.
import type { XmlElement } from "../xml/element.js";
import { carryOut, type AccountEffect } from "../accounts/decider/index.js";
import type { AccountRuntime } from "./account.js";
import type { KernelServices } from "./services.js";
import { sendCurrentPresence, sendFromBare, sendUnavailableFromResources } from "./presence-effects.js";
import { kickAllSessions } from "./resource-binding.js";

/**
 * `stanza` is the command's own stanza: the user's subscription stanza to
 * route onward, or the inbound one (normalised) to deliver.
 */
export function carryOutEffects(k: KernelServices, account: AccountRuntime, effects: readonly AccountEffect[], stanza?: XmlElement): void {
  const route = (s: XmlElement) => k.router.route(s);
  carryOut(effects, {
    // §3.1.2: the server stamps the bare JIDs on subscription stanzas.
    route: (e) => { if (stanza) route(stanza.withAttrs({ from: account.bareJid, to: e.to })); },
    deliver: (e) => {
      if (!stanza) return;
      for (const s of account.sessions.values()) {
        if (e.audience === "available" ? s.available : s.interested) s.session.send({ type: "deliver", stanza });
      }
    },
    presence: (e) => sendFromBare(account, route, e.type, e.to),
    currentPresence: (e) => sendCurrentPresence(account, route, e.to, e.orUnavailable),
    unavailableFromResources: (e) => sendUnavailableFromResources(account, route, e.to),
    rosterPush: (e) => { k.hooks.fire("roster/changed", { account, jids: e.jids }); },
    blocklistPush: (e) => { k.hooks.fire("blocklist/changed", { account, action: e.action, jids: e.jids }); },
    kickSessions: (e) => kickAllSessions(account, e.text),
  });
}
