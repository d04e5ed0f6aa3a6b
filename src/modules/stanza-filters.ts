// Filters every stanza passes before its handler, in both directions. The
// blocking module (XEP-0191) is the one filter; it is applied here so no
// handler can forget it.
import type { XmlElement } from "../xml/element.js";
import type { AccountContext } from "../server/host.js";

export type StanzaFilter = (ctx: AccountContext, stanza: XmlElement) => boolean;

const outbound: StanzaFilter[] = [];
const inbound: StanzaFilter[] = [];

export function addOutboundFilter(f: StanzaFilter): void { outbound.push(f); }
export function addInboundFilter(f: StanzaFilter): void { inbound.push(f); }

/** False when a filter consumed the stanza (bounced or dropped it). */
export function outboundFilter(ctx: AccountContext, stanza: XmlElement): boolean {
  for (const f of outbound) if (!f(ctx, stanza)) return false;
  return true;
}

export function inboundFilter(ctx: AccountContext, stanza: XmlElement): boolean {
  for (const f of inbound) if (!f(ctx, stanza)) return false;
  return true;
}
