// Where an account actor sends each stanza: by kind and direction to the
// feature modules. Outbound = sent by one of the user's resources;
// inbound = addressed to the user from anywhere (including the user's own
// other resources, after routing).
import type { XmlElement } from "../xml/element.js";
import { parseJid, tryParseJid } from "../jid/jid.js";
import type { AccountContext, AccountScope } from "../server/host.js";
import { errorReply, type StreamErrorCondition } from "../xmpp/errors.js";
import { messageInbound, messageOutbound } from "./message.js";
import { presenceInbound, presenceOutbound } from "./presence.js";
import { accountIq, iqToResource } from "./iq.js";
import { inboundBlockingFilter, outboundBlockingFilter } from "./blocking.js";
import { isContactSubscribed } from "../roster/subscription.js";

/** The context for one stanza: who asks (a full JID string) and whether it is the user. */
export function accountContext(scope: AccountScope, requester: string): AccountContext {
  const jid = parseJid(requester);
  const self = jid.bareString() === scope.runtime.bareJid;
  const deferred: (() => void)[] = [];
  return {
    runtime: scope.runtime,
    host: scope.host,
    requester: jid,
    self,
    get mayDiscover() {
      return self || isContactSubscribed(scope.runtime.roster, jid.bareString());
    },
    afterReply: (action) => deferred.push(action),
    runDeferred: () => { for (const a of deferred.splice(0)) a(); },
  };
}

export function handleOutbound(scope: AccountScope, resource: string, stanza: XmlElement): void {
  const ctx = accountContext(scope, `${scope.runtime.bareJid}/${resource}`);
  const to = stanza.attrs.to;
  if (to !== undefined && !tryParseJid(to)) {
    // RFC 6120 §8.3.3.8: an address that is not a JID.
    if (stanza.attrs.type !== "error") {
      scope.runtime.deliver(resource, errorReply(stanza,
        { condition: "jid-malformed", text: `'${to}' is not a valid JID` }, scope.runtime.jid.domain));
    }
    return;
  }
  if (!outboundBlockingFilter(ctx, stanza)) return;
  switch (stanza.name) {
    case "message":
      return messageOutbound(ctx, stanza);
    case "presence":
      return presenceOutbound(ctx, resource, stanza);
    case "iq":
      if (to === undefined || to === scope.runtime.bareJid) return accountIq(ctx, stanza);
      return scope.host.route(stanza);
  }
}

export function handleInbound(scope: AccountScope, stanza: XmlElement): void {
  const from = stanza.attrs.from;
  if (from === undefined) return; // everything routed to an account carries `from`
  const ctx = accountContext(scope, from);
  if (!inboundBlockingFilter(ctx, stanza)) return;
  const to = stanza.attrs.to;
  const slash = to === undefined ? -1 : to.indexOf("/");
  const resource = slash === -1 || to === undefined ? "" : to.slice(slash + 1);
  switch (stanza.name) {
    case "message":
      return messageInbound(ctx, stanza, resource);
    case "presence":
      return presenceInbound(ctx, stanza, resource);
    case "iq":
      if (resource !== "") return iqToResource(ctx, stanza, resource);
      return accountIq(ctx, stanza);
  }
}

export function kickAllSessions(scope: AccountScope, condition: StreamErrorCondition, text: string): void {
  for (const s of scope.runtime.sessions.values()) s.session.send({ type: "session.kick", condition, text });
  scope.runtime.sessions.clear();
}
