// IQ dispatch (RFC 6120 §8.2.3, §10.3.3): an IQ get/set becomes the hook
// `iq-<type>/<target>/<payload namespace>:<payload name>`; exactly one reply
// goes back: the handler's, or service-unavailable when nobody handles it
// (RFC 6120 §8.4), or bad-request when it has not exactly one payload.
import { el, XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError, errorElement, type StanzaErrorSpec } from "../xmpp/errors.js";
import type { Jid } from "../jid/jid.js";
import type { Logger } from "../util/logger.js";
import { iqHookName, type HookBus, type IqTarget } from "./hooks.js";
import type { AccountIqRequest, HostIqRequest, IqResponse } from "./events.js";
import type { Account } from "./account.js";
import type { IqHandler } from "./module-api.js";
import type { Router } from "./router.js";
import { HANDLED } from "./hooks.js";
import { isContactSubscribed } from "../roster/subscription.js";
import { DecisionError } from "../accounts/decider/index.js";

export function isIqRequest(iq: XmlElement): boolean {
  return iq.attrs.type === "get" || iq.attrs.type === "set";
}

function isErrorSpec(r: IqResponse): r is StanzaErrorSpec {
  return r !== null && !(r instanceof XmlElement);
}

/** The reply element for a response: a result with the payload, or an error. */
function replyFor(iq: XmlElement, response: IqResponse, from: string | undefined): XmlElement {
  if (isErrorSpec(response)) {
    return el("iq", NS.client, { type: "error", id: iq.attrs.id, from, to: iq.attrs.from }, errorElement(response));
  }
  return el("iq", NS.client, { type: "result", id: iq.attrs.id, from, to: iq.attrs.from }, response ?? undefined);
}

/** Wraps an xmpp.js-style handler (return the payload, throw a StanzaError) as a hook handler. */
export function iqHookHandler<R extends AccountIqRequest | HostIqRequest>(handler: IqHandler<R>, log: Logger, owner: string) {
  const failed = (request: R, err: unknown): void => {
    if (err instanceof StanzaError) return request.respond(err.spec);
    // An illegal command on an account stream (src/accounts/decider) names its condition.
    if (err instanceof DecisionError) return request.respond({ condition: err.condition, text: err.message });
    log.error("IQ handler failed", { module: owner, payload: `${request.payload.ns} ${request.payload.name}`, error: String((err as Error)?.stack ?? err) });
    request.respond({ condition: "internal-server-error" });
  };
  return (request: R): typeof HANDLED => {
    try {
      const result = handler(request);
      if (result instanceof Promise) result.then((r) => request.respond(r), (err: unknown) => failed(request, err));
      else request.respond(result);
    } catch (err) {
      failed(request, err);
    }
    return HANDLED;
  };
}

function onePayload(iq: XmlElement): XmlElement | undefined {
  const payloads = iq.getChildren();
  return payloads.length === 1 ? payloads[0] : undefined;
}

const BAD_PAYLOAD: StanzaErrorSpec = { condition: "bad-request", text: "An IQ request carries exactly one payload element" };

/** Guards against a second reply: RFC 6120 §8.2.3, exactly one per request. */
function once(send: (response: IqResponse) => void, log: Logger, what: string): (response: IqResponse) => void {
  let sent = false;
  return (response) => {
    if (sent) {
      log.error("an IQ was answered twice; the second reply is dropped", { iq: what });
      return;
    }
    sent = true;
    send(response);
  };
}

/** An IQ addressed to a served domain. */
export function dispatchHostIq(hooks: HookBus, router: Router, log: Logger, iq: XmlElement, from: Jid, to: Jid): void {
  if (!isIqRequest(iq)) return; // results and errors to the server answer nothing we asked
  const domain = to.toString();
  const respond = once((response) => {
    if (isErrorSpec(response)) router.bounce(iq, response, domain);
    else router.route(replyFor(iq, response, iq.attrs.to));
  }, log, `${iq.attrs.id} to ${domain}`);
  const payload = onePayload(iq);
  if (!payload) return respond(BAD_PAYLOAD);
  const request: HostIqRequest = { iq, payload, from, domain, respond };
  const type = iq.attrs.type as "get" | "set";
  if (!hooks.fire(iqHookName(type, "host", payload.ns, payload.name), request)) respond({ condition: "service-unavailable" });
}

/** An IQ to an account's bare JID: from one of its own resources (`self`) or from anyone else. */
export function dispatchAccountIq(hooks: HookBus, router: Router, log: Logger, account: Account, iq: XmlElement, from: Jid, self: boolean): void {
  if (!isIqRequest(iq)) return; // e.g. results of roster pushes
  const deferred: (() => void)[] = [];
  const replyFrom = iq.attrs.to; // absent when the user asked about itself without `to`
  const respond = once((response) => {
    const reply = replyFor(iq, response, replyFrom);
    // A reply to one of the user's own resources goes straight to it; others are routed.
    if (self) account.deliver(from.resource, reply);
    else router.route(reply);
    if (!isErrorSpec(response)) for (const action of deferred.splice(0)) action();
  }, log, `${iq.attrs.id} to ${account.bareJid}`);
  const payload = onePayload(iq);
  if (!payload) return respond(BAD_PAYLOAD);
  const target: IqTarget = self ? "self" : "bare";
  const request: AccountIqRequest = {
    iq, payload, from, account, self, respond,
    get mayDiscover() {
      return self || isContactSubscribed(account.roster, from.bareString());
    },
    afterReply: (action) => deferred.push(action),
  };
  const type = iq.attrs.type as "get" | "set";
  if (!hooks.fire(iqHookName(type, target, payload.ns, payload.name), request)) respond({ condition: "service-unavailable" });
}
