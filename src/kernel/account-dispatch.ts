// Where an account actor sends each stanza: to the hooks named by its kind,
// direction and address, and to the kernel's defaults when no module handled
// it. Outbound = sent by one of the user's resources (`pre-message/bare` …);
// inbound = addressed to the user from anywhere (`message/full` …),
// including the user's own other resources, after routing.
import type { XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { tryParseJid, type Jid } from "../jid/jid.js";
import type { AddressKind, StanzaHookName } from "./hooks.js";
import type { AccountRuntime, ResourceSession } from "./account.js";
import type { InboundStanza, OutboundStanza } from "./events.js";
import type { KernelServices } from "./services.js";
import { dispatchAccountIq } from "./iq-dispatch.js";
import { accountStreamId } from "../events/types.js";
import { deliverIq, deliverMessage, deliverPresence } from "./delivery.js";

type RoutableName = "message" | "presence" | "iq";

function isRoutable(name: string): name is RoutableName {
  return name === "message" || name === "presence" || name === "iq";
}

/** Prosody's to_type: a resource makes it full, else a localpart bare, else the host. */
export function addressKind(to: Jid): AddressKind {
  if (to.local === "") return "host";
  return to.resource === "" ? "bare" : "full";
}

/**
 * A stanza one of the user's resources sent; `from` is already its full JID
 * and `to` was parsed by the session (RFC 6120 §8.3.3.8: a bad one never gets here).
 */
export function dispatchOutbound(k: KernelServices, account: AccountRuntime, resource: string, sent: XmlElement, parsedTo: Jid | undefined): void {
  const session = account.sessions.get(resource);
  if (!session || !isRoutable(sent.name)) return;
  // Its output depends on the sender's account and on whatever the handling touches (commit-gate.ts).
  k.causes.within(accountStreamId(account.bareJid), () => handleOutbound(k, account, session, sent, parsedTo));
}

function handleOutbound(k: KernelServices, account: AccountRuntime, session: ResourceSession, sent: XmlElement, parsedTo: Jid | undefined): void {
  const stanza = withoutForgedDelays(k, sent);
  const to = parsedTo ?? account.jid;
  const event: OutboundStanza = { stanza, from: session.jid, to, addressed: parsedTo !== undefined, account, session };
  const hook = `pre-${stanza.name}/${addressKind(to)}` as StanzaHookName;
  if (k.hooks.fire(hook, event)) return;
  // Nobody handled it: IQs to the user's own bare JID are answered here, everything else is routed.
  const out = event.stanza;
  if (out.name === "iq" && to.equals(account.jid)) {
    dispatchAccountIq(k.hooks, k.router, k.log, account, out, session.jid, true);
    return;
  }
  // RFC 6120 §8.1.1.1: no `to` means the user's own bare JID.
  k.router.routeTo(parsedTo === undefined ? out.withAttrs({ to: account.bareJid }) : out, to);
}

/**
 * XEP-0203 §3: a delay stamp names who delayed the stanza; a client cannot
 * speak for this server, so a <delay/> from one of its domains that a client
 * wrote is removed (clients would show it as the server's).
 */
function withoutForgedDelays(k: KernelServices, stanza: XmlElement): XmlElement {
  const forged = (c: XmlElement) => c.name === "delay" && c.ns === NS.delay && c.attrs.from !== undefined &&
    k.router.kindOf(c.attrs.from.toLowerCase()) !== "remote";
  return stanza.getChildren().some(forged) ? stanza.withoutChildren(forged) : stanza;
}

/** A stanza addressed to this user (`to` parsed by the router), from anywhere. */
export function dispatchInbound(k: KernelServices, account: AccountRuntime, stanza: XmlElement, to: Jid): void {
  const rawFrom = stanza.attrs.from;
  // Everything routed to an account carries `from` (the sender's session or the server stamped it).
  const from = rawFrom === undefined ? undefined : tryParseJid(rawFrom);
  if (!from || !isRoutable(stanza.name)) return;
  const event: InboundStanza = { stanza, from, to, account };
  const hook = `${stanza.name}/${to.resource === "" ? "bare" : "full"}` as StanzaHookName;
  if (k.hooks.fire(hook, event)) return;
  switch (event.stanza.name) {
    case "message":
      return deliverMessage(k, event);
    case "presence":
      return deliverPresence(event);
    case "iq":
      return deliverIq(k, event);
  }
}
