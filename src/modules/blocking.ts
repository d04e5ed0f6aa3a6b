// XEP-0191 Blocking Command: the block list IQs, pushes to interested
// resources, presence withdrawn and restored, and the filters that keep
// stanzas from crossing a block in either direction.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError } from "../xmpp/errors.js";
import type { AccountContext, AccountScope, Host } from "../server/host.js";
import { decideBlock, decideUnblock, isBlocked, BlockingError } from "../blocking/blocklist.js";
import { decideAndCommit } from "./roster-store.js";
import { blocklistElement, blocklistPush, requestedJids } from "./blocking-xml.js";
import { sendCurrentPresence, sendUnavailableFromResources } from "./subscription-effects.js";

function pushToInterested(scope: AccountScope, action: "block" | "unblock", jids: string[]): void {
  for (const s of scope.runtime.sessions.values()) {
    if (s.blocklistInterested) s.session.send({ type: "deliver", stanza: blocklistPush(s.fullJid, action, jids) });
  }
}

function blocklistGet(ctx: AccountContext): XmlElement {
  if (!ctx.self) throw new StanzaError({ condition: "service-unavailable" });
  const session = ctx.runtime.sessions.get(ctx.requester.resource);
  if (session) session.blocklistInterested = true;
  return blocklistElement(ctx.runtime.roster.blocked);
}

function edit(action: "block" | "unblock") {
  return (ctx: AccountContext, _iq: XmlElement, payload: XmlElement): null => {
    if (!ctx.self) throw new StanzaError({ condition: "service-unavailable" });
    const jids = requestedJids(payload);
    let d;
    try {
      d = decideAndCommit(ctx, { kind: "user", resource: ctx.requester.resource },
        () => (action === "block" ? decideBlock(ctx.runtime.roster, jids, ctx.host.config.limits.blockedItems) : decideUnblock(ctx.runtime.roster, jids)));
    } catch (err) {
      if (err instanceof BlockingError) throw new StanzaError({ condition: err.condition, text: err.message });
      throw err;
    }
    ctx.afterReply(() => {
      pushToInterested(ctx, action, jids);
      // XEP-0191 §3.3: a blocked contact sees us go offline; an unblocked one sees us again.
      for (const jid of d.withdrawPresenceFrom) sendUnavailableFromResources(ctx, jid);
      for (const jid of d.resendPresenceTo) sendCurrentPresence(ctx, jid, false);
    });
    return null;
  };
}

export function installBlocking(host: Host): void {
  host.iq.onAccount("get", NS.blocking, "blocklist", blocklistGet);
  host.iq.onAccount("set", NS.blocking, "block", edit("block"));
  host.iq.onAccount("set", NS.blocking, "unblock", edit("unblock"));
  host.iq.addFeature("server", NS.blocking);
  host.iq.addFeature("account", NS.blocking);
}

/**
 * A stanza the user sends to a JID they blocked is bounced (XEP-0191 §3.5);
 * errors and IQ results are dropped. False when the stanza was consumed.
 */
export function outboundBlockingFilter(ctx: AccountContext, stanza: XmlElement): boolean {
  const to = stanza.attrs.to;
  if (to === undefined || !isBlocked(ctx.runtime.roster, to)) return true;
  const type = stanza.attrs.type;
  if (type === "error" || (stanza.name === "iq" && type === "result")) return false;
  ctx.runtime.deliver(ctx.requester.resource, el(stanza.name, stanza.ns,
    { type: "error", id: stanza.attrs.id, from: to, to: stanza.attrs.from },
    el("error", NS.client, { type: "cancel" },
      el("not-acceptable", NS.stanzas),
      el("text", NS.stanzas, {}, "You have blocked this JID"),
      el("blocked", NS.blockingErrors))));
  return false;
}

/**
 * A stanza from a blocked JID (XEP-0191 §3.5): presence dropped, IQ requests
 * and chat/normal messages answered service-unavailable, the rest dropped.
 */
export function inboundBlockingFilter(ctx: AccountContext, stanza: XmlElement): boolean {
  const from = stanza.attrs.from;
  if (from === undefined || !isBlocked(ctx.runtime.roster, from)) return true;
  const type = stanza.attrs.type;
  const bounce =
    (stanza.name === "iq" && (type === "get" || type === "set")) ||
    (stanza.name === "message" && (type === undefined || type === "chat" || type === "normal"));
  if (bounce) ctx.host.bounce(stanza, { condition: "service-unavailable", type: "cancel" });
  return false;
}
