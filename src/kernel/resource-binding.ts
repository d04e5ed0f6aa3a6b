// Resource binding (RFC 6120 §7) on the account side: choose the resource,
// replace a session already bound to the same full JID, forget sessions that
// end. Modules hear of both through `resource-bind` and `resource-unbind`.
import { randomBytes } from "node:crypto";
import { tryParseJid } from "../jid/jid.js";
import type { SessionRef } from "../actors/session-types.js";
import type { AccountRuntime, ResourceSession } from "./account.js";
import type { KernelServices } from "./services.js";
import type { StreamErrorCondition } from "../xmpp/errors.js";
import type { XmlElement } from "../xml/element.js";

/** A server-generated resource: unguessable, so it leaks nothing about the client. */
function generateResource(): string {
  return `parley-${randomBytes(6).toString("hex")}`;
}

export function bindResource(k: KernelServices, account: AccountRuntime, session: SessionRef, requested: string | undefined, bind2?: XmlElement): void {
  let resource = requested ?? generateResource();
  if (requested !== undefined) {
    // RFC 6120 §7.7.2.1: a resourcepart that is not valid is bad-request.
    const jid = tryParseJid(`${account.bareJid}/${requested}`);
    if (!jid) {
      session.send({ type: "bind.error", error: { condition: "bad-request", text: "That resource is not a valid resourcepart" } });
      return;
    }
    resource = jid.resource;
  }
  const existing = account.sessions.get(resource);
  const limit = k.config.limits.sessionsPerAccount;
  if (!existing && account.sessions.size >= limit) {
    // RFC 6120 §7.6.2.1: the account has reached its number of connected resources.
    session.send({ type: "bind.error", error: { condition: "resource-constraint", text: `At most ${limit} sessions per account` } });
    return;
  }
  if (existing) {
    // RFC 6120 §7.7.2.2: we take the "override the old session" option.
    k.log.info("resource conflict: replacing older session", { jid: existing.fullJid });
    existing.session.send({ type: "session.kick", condition: "conflict", text: "Replaced by a new connection with the same resource" });
    unbind(k, account, existing);
  }
  const entry = account.addSession(resource, session);
  if (bind2) {
    // XEP-0386 §3: the inline features (carbons, stream management …) take
    // effect with the bind, before any stanza can reach the new resource.
    const results: XmlElement[] = [];
    k.hooks.fire("bind2/inline", { account, session: entry, request: bind2, results });
    session.send({ type: "bind.result", jid: entry.jid, inline: results });
  } else {
    session.send({ type: "bind.result", jid: entry.jid });
  }
  k.hooks.fire("resource-bind", { account, session: entry });
}

export function endSession(k: KernelServices, account: AccountRuntime, sessionId: string, resource: string,
  unacknowledged: readonly XmlElement[] = []): void {
  const entry = account.sessions.get(resource);
  // A replaced session ends after its successor took the resource: not ours to remove.
  if (entry && entry.session.sessionId === sessionId) unbind(k, account, entry);
  // XEP-0198 §5: what the client never acknowledged is not lost with it (even from a replaced session).
  if (unacknowledged.length > 0) k.hooks.fire("session/unacknowledged", { account, resource, stanzas: unacknowledged });
}

/** Modules see the session one last time (presence sends unavailable on its behalf, RFC 6121 §4.5.2), then it is gone. */
function unbind(k: KernelServices, account: AccountRuntime, entry: ResourceSession): void {
  k.hooks.fire("resource-unbind", { account, session: entry });
  account.sessions.delete(entry.resource);
}

/** The account is gone (or its actor cannot go on): every session is closed with a stream error. */
export function kickAllSessions(account: AccountRuntime, text: string, condition: StreamErrorCondition = "not-authorized"): void {
  for (const s of account.sessions.values()) s.session.send({ type: "session.kick", condition, text });
  account.sessions.clear();
}
