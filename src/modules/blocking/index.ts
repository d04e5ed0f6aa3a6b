// XEP-0191 Blocking Command, all of it: the block list IQs (§3.1–3.4),
// pushes to the resources that asked for the list (§3.2), presence withdrawn
// and restored (§3.3), and the filters that keep stanzas from crossing a
// block in either direction (§3.5), as hooks that run before every other
// handler. Matching (§3.3) is on normalised JIDs: src/blocking/blocklist.ts.
import { el } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Account, SessionSlot } from "../../kernel/account.js";
import type { AccountIqRequest, InboundStanza, OutboundStanza } from "../../kernel/events.js";
import { isBlocked } from "../../blocking/blocklist.js";
import { blocklistElement, blocklistPush, requestedJids } from "./blocking-xml.js";

/** Before any other module: a block wins over everything else a stanza would do. */
const FILTER_PRIORITY = 1000;

function pushToInterested(account: Account, interested: SessionSlot<boolean>, action: "block" | "unblock", jids: readonly string[]): void {
  for (const s of account.sessions.values()) {
    if (interested.get(s)) s.session.send({ type: "deliver", stanza: blocklistPush(s.fullJid, action, jids) });
  }
}

function edit(api: ModuleApi, action: "block" | "unblock") {
  return (req: AccountIqRequest) => {
    const { account } = req;
    const jids = requestedJids(req.payload, api.config.limits.blockedItems);
    const effects = api.accounts.execute(account, { kind: action, jids }, { kind: "user", resource: req.from.resource });
    // §3.3: the pushes, then presence withdrawn from the newly blocked (restored to the unblocked), after the result.
    req.afterReply(() => api.accounts.carryOut(account, effects));
    return null;
  };
}

/**
 * §3.5: a stanza the user sends to a JID they blocked is bounced with
 * <blocked/>; errors and IQ results are dropped.
 */
function outboundFilter({ stanza, to, addressed, account, from }: OutboundStanza): typeof HANDLED | undefined {
  if (!addressed || !isBlocked(account.roster, to)) return undefined;
  const type = stanza.attrs.type;
  if (type === "error" || (stanza.name === "iq" && type === "result")) return HANDLED;
  account.deliver(from.resource, el(stanza.name, stanza.ns,
    { type: "error", id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from },
    el("error", NS.client, { type: "cancel" },
      el("not-acceptable", NS.stanzas),
      el("text", NS.stanzas, {}, "You have blocked this JID"),
      el("blocked", NS.blockingErrors))));
  return HANDLED;
}

/**
 * §3.5: a stanza from a blocked JID: presence dropped, IQ requests and
 * chat/normal messages answered service-unavailable, the rest dropped.
 */
function inboundFilter(api: ModuleApi, { stanza, from, account }: InboundStanza): typeof HANDLED | undefined {
  if (!isBlocked(account.roster, from)) return undefined;
  const type = stanza.attrs.type;
  const bounce =
    (stanza.name === "iq" && (type === "get" || type === "set")) ||
    (stanza.name === "message" && (type === undefined || type === "chat" || type === "normal"));
  if (bounce) api.bounce(stanza, { condition: "service-unavailable", type: "cancel" });
  return HANDLED;
}

export const blocking: ParleyModule = {
  name: "blocking",
  load(api) {
    /** Requested the block list in this session: receives block-list pushes (§3.2). */
    const interested = api.sessionData(() => false);
    api.iq("get", "self", NS.blocking, "blocklist", (req) => {
      const session = req.account.sessions.get(req.from.resource);
      if (session) interested.set(session, true);
      return blocklistElement(req.account.roster.blocked);
    });
    api.iq("set", "self", NS.blocking, "block", edit(api, "block"));
    api.iq("set", "self", NS.blocking, "unblock", edit(api, "unblock"));
    api.hook("blocklist/changed", ({ account, action, jids }) => pushToInterested(account, interested, action, jids));
    for (const name of ["message", "presence", "iq"] as const) {
      for (const kind of ["bare", "full", "host"] as const) api.hook(`pre-${name}/${kind}`, outboundFilter, FILTER_PRIORITY);
      for (const kind of ["bare", "full"] as const) api.hook(`${name}/${kind}`, (e) => inboundFilter(api, e), FILTER_PRIORITY);
    }
    api.addFeature("host", NS.blocking);
    api.addFeature("account", NS.blocking);
  },
};
