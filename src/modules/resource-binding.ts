// Resource binding (RFC 6120 §7) on the account side: choose the resource,
// replace a session already bound to the same full JID, and forget sessions
// that end.
import { randomBytes } from "node:crypto";
import { tryParseJid } from "../jid/jid.js";
import type { AccountScope } from "../server/host.js";
import type { SessionRef } from "../actors/session-types.js";
import { sessionWentAway } from "./presence.js";
import { accountContext } from "./dispatch.js";

/** A server-generated resource: unguessable, so it leaks nothing about the client. */
function generateResource(): string {
  return `parley-${randomBytes(6).toString("hex")}`;
}

export function bindResource(scope: AccountScope, session: SessionRef, requested: string | undefined): void {
  const { runtime, host } = scope;
  let resource = requested ?? generateResource();
  if (requested !== undefined) {
    // RFC 6120 §7.7.2.1: a resourcepart that is not valid is bad-request.
    const jid = tryParseJid(`${runtime.bareJid}/${requested}`);
    if (!jid) {
      session.send({ type: "bind.error", error: { condition: "bad-request", text: "That resource is not a valid resourcepart" } });
      return;
    }
    resource = jid.resource;
  }
  const existing = runtime.sessions.get(resource);
  const limit = host.config.limits.sessionsPerAccount;
  if (!existing && runtime.sessions.size >= limit) {
    // RFC 6120 §7.6.2.1: the account has reached its number of connected resources.
    session.send({ type: "bind.error", error: { condition: "resource-constraint", text: `At most ${limit} sessions per account` } });
    return;
  }
  if (existing) {
    // RFC 6120 §7.7.2.2: we take the "override the old session" option.
    host.log.info("resource conflict: replacing older session", { jid: existing.fullJid });
    existing.session.send({ type: "session.kick", condition: "conflict", text: "Replaced by a new connection with the same resource" });
    sessionWentAway(accountContext(scope, existing.fullJid), existing);
    runtime.sessions.delete(resource);
  }
  runtime.addSession(resource, session);
  const jid = tryParseJid(`${runtime.bareJid}/${resource}`);
  if (!jid) throw new Error(`bound resource '${resource}' of ${runtime.bareJid} does not form a valid JID`);
  session.send({ type: "bind.result", jid });
}

export function endSession(scope: AccountScope, sessionId: string, resource: string): void {
  const entry = scope.runtime.sessions.get(resource);
  // A replaced session ends after its successor took the resource: not ours to remove.
  if (!entry || entry.session.sessionId !== sessionId) return;
  sessionWentAway(accountContext(scope, entry.fullJid), entry);
  scope.runtime.sessions.delete(resource);
}
