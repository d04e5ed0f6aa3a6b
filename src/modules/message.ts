// Message routing for local users (RFC 6121 §8.5) with XEP-0160 offline
// storage when no resource is available.
import { el, type XmlElement } from "../xml/element.js";
import { serialize } from "../xml/serialize.js";
import { NS } from "../xmpp/namespaces.js";
import type { AccountContext, Host } from "../server/host.js";
import type { AccountRuntime } from "../actors/account-runtime.js";
import { OfflineStoreFull } from "./offline-store.js";
import { parseFragment } from "../xml/fragment.js";

const CHATSTATES = "http://jabber.org/protocol/chatstates";

type MessageType = "normal" | "chat" | "groupchat" | "headline" | "error";

function messageType(stanza: XmlElement): MessageType {
  const t = stanza.attrs.type;
  return t === "chat" || t === "groupchat" || t === "headline" || t === "error" ? t : "normal";
}

/** Worth keeping for later: anything but a bare chat state notification. */
function isStorable(stanza: XmlElement): boolean {
  return stanza.children.some((c) => typeof c !== "string" && c.ns !== CHATSTATES);
}

/** A message one of the user's resources sent. No `to` means the user's own bare JID (RFC 6120 §8.1.1.1). */
export function messageOutbound(ctx: AccountContext, stanza: XmlElement): void {
  const routed = stanza.attrs.to === undefined ? stanza.withAttrs({ to: ctx.runtime.bareJid }) : stanza;
  ctx.host.route(routed);
}

/** A message addressed to this user, from anywhere. */
export function messageInbound(ctx: AccountContext, stanza: XmlElement, toResource: string): void {
  const { runtime, host } = ctx;
  const type = messageType(stanza);
  if (toResource !== "") {
    if (runtime.deliver(toResource, stanza)) return;
    // §8.5.3.2.1: no such resource.
    if (type === "groupchat") return host.bounce(stanza, { condition: "service-unavailable" });
    if (type === "headline" || type === "error") return;
  }
  deliverToBare(runtime, host, stanza, type);
}

function deliverToBare(runtime: AccountRuntime, host: Host, stanza: XmlElement, type: MessageType): void {
  switch (type) {
    case "error":
      return; // §8.5.2.1.1: an error to the bare JID is dropped.
    case "groupchat":
      return host.bounce(stanza, { condition: "service-unavailable" });
    case "headline": {
      for (const s of runtime.messageTargets(false)) s.session.send({ type: "deliver", stanza });
      return;
    }
    case "chat":
    case "normal": {
      // Chat goes to every non-negative resource (the RFC's allowed "all" option);
      // normal to the highest-priority ones.
      const targets = runtime.messageTargets(type === "normal");
      if (targets.length > 0) {
        for (const s of targets) s.session.send({ type: "deliver", stanza });
        return;
      }
      if (!isStorable(stanza)) return;
      try {
        host.offline.store(runtime.bareJid, serialize(stanza, NS.client), host.now().toISOString());
      } catch (err) {
        if (!(err instanceof OfflineStoreFull)) throw err;
        host.log.warn("offline storage full", { account: runtime.bareJid });
        host.bounce(stanza, {
          condition: "service-unavailable",
          text: "The recipient is offline and their message storage is full",
        });
      }
      return;
    }
  }
}

/** XEP-0160 §3: deliver stored messages with a delay stamp when a resource comes online. */
export function deliverOfflineMessages(ctx: AccountContext, resource: string): void {
  const { runtime, host } = ctx;
  const domain = runtime.jid.domain;
  for (const stored of host.offline.take(runtime.bareJid)) {
    const original = parseFragment(stored.stanza);
    if (!original) {
      host.log.error("dropping unparsable offline message", { account: runtime.bareJid, id: stored.id });
      continue;
    }
    runtime.deliver(resource, original.withChildren(
      el("delay", NS.delay, { from: domain, stamp: stored.storedAt })));
  }
}
