// IQ dispatch (RFC 6120 §8.2.3, §10.3.3): IQs to the server, to an account's
// bare JID (or with no `to`), and to a full JID. Every get/set gets exactly
// one reply: the handler's, or an error.
import { el, type XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError, errorElement, type StanzaErrorSpec } from "../xmpp/errors.js";
import type { AccountContext, Host, ServerIqContext } from "../server/host.js";
import type { IqHandler } from "../routing/iq-registry.js";

function isRequest(iq: XmlElement): boolean {
  return iq.attrs.type === "get" || iq.attrs.type === "set";
}

/**
 * Runs a handler and builds the reply. RFC 6120 §8.2.3: a get or set has
 * exactly one payload child; anything else is bad-request.
 */
function answer<C>(
  ctx: C,
  iq: XmlElement,
  find: (iq: XmlElement, payload: XmlElement) => IqHandler<C> | undefined,
  log: Host["log"],
): XmlElement | StanzaErrorSpec {
  const payloads = iq.getChildren();
  const payload = payloads[0];
  if (payloads.length !== 1 || !payload) return { condition: "bad-request", text: "An IQ request carries exactly one payload element" };
  const handler = find(iq, payload);
  if (!handler) return { condition: "service-unavailable" };
  try {
    const result = handler(ctx, iq, payload);
    return el("iq", NS.client, { type: "result", id: iq.attrs.id }, result ?? undefined);
  } catch (err) {
    if (err instanceof StanzaError) return err.spec;
    log.error("IQ handler failed", { payload: `${payload.ns} ${payload.name}`, error: String((err as Error)?.stack ?? err) });
    return { condition: "internal-server-error" };
  }
}

/** An IQ addressed to the server's domain. */
export function serverIq(host: Host, ctx: ServerIqContext, iq: XmlElement): void {
  if (!isRequest(iq)) return; // results and errors to the server answer nothing we asked
  const reply = answer(ctx, iq, (q, p) => host.iq.serverHandler(q, p), host.log);
  if ("condition" in reply) {
    host.bounce(iq, reply, ctx.domain);
    return;
  }
  host.route(reply.withAttrs({ from: iq.attrs.to, to: iq.attrs.from }));
}

/** An IQ to this account's bare JID: from one of its own resources or from anyone else. */
export function accountIq(ctx: AccountContext, iq: XmlElement): void {
  if (!isRequest(iq)) return; // e.g. results of roster pushes
  const reply = answer(ctx, iq, (q, p) => ctx.host.iq.accountHandler(q, p), ctx.host.log);
  const from = iq.attrs.to; // absent when the user asked about itself without `to`
  if ("condition" in reply) {
    deliverReply(ctx, el("iq", NS.client, { type: "error", id: iq.attrs.id, from, to: iq.attrs.from }, errorElement(reply)));
    return;
  }
  deliverReply(ctx, reply.withAttrs({ from, to: iq.attrs.from }));
  ctx.runDeferred();
}

/** A reply to one of the user's own resources goes straight to it; others are routed. */
function deliverReply(ctx: AccountContext, reply: XmlElement): void {
  if (ctx.self) ctx.runtime.deliver(ctx.requester.resource, reply);
  else ctx.host.route(reply);
}

/** An IQ to one of this account's full JIDs. */
export function iqToResource(ctx: AccountContext, iq: XmlElement, resource: string): void {
  if (ctx.runtime.deliver(resource, iq)) return;
  if (isRequest(iq)) ctx.host.bounce(iq, { condition: "service-unavailable" });
}
