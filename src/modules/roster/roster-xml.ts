// The wire form of rosters (RFC 6121 §2.1): items in results and pushes,
// and parsing a client's roster set. Pure: no state, no I/O.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";

export interface RosterItemView {
  jid: string;
  name?: string;
  subscription: "none" | "to" | "from" | "both";
  /** Pending out: shown as ask='subscribe' (RFC 6121 §2.1.2.2). */
  ask: boolean;
  groups: readonly string[];
}

export function itemElement(item: RosterItemView): XmlElement {
  return el("item", NS.roster, {
    jid: item.jid,
    name: item.name,
    subscription: item.subscription,
    ask: item.ask ? "subscribe" : undefined,
  }, ...item.groups.map((g) => el("group", NS.roster, {}, g)));
}

export function removedItemElement(jid: string): XmlElement {
  return el("item", NS.roster, { jid, subscription: "remove" });
}

export function rosterQuery(ver: string, items: XmlElement[]): XmlElement {
  return el("query", NS.roster, { ver }, ...items);
}

/** A roster push (RFC 6121 §2.1.6) for one resource. */
export function rosterPush(to: string, id: string, ver: string, item: XmlElement): XmlElement {
  return el("iq", NS.client, { type: "set", id, to }, rosterQuery(ver, [item]));
}

export type RosterSetRequest =
  | { kind: "set"; jid: string; name: string | undefined; groups: string[] }
  | { kind: "remove"; jid: string };

export class RosterRequestError extends Error {
  constructor(readonly condition: "bad-request" | "jid-malformed" | "not-acceptable", message: string) {
    super(message);
    this.name = "RosterRequestError";
  }
}

/**
 * RFC 6121 §2.3.3: exactly one item; `subscription` only as "remove"; group
 * names non-empty and unique. The JID is returned as written: the caller
 * normalises it.
 */
export function parseRosterSet(query: XmlElement): RosterSetRequest {
  const items = query.getChildren("item", NS.roster);
  if (items.length !== 1) throw new RosterRequestError("bad-request", "A roster set carries exactly one item");
  const item = items[0] as XmlElement;
  const jid = item.attrs.jid;
  if (jid === undefined || jid === "") throw new RosterRequestError("bad-request", "The item has no jid");
  const subscription = item.attrs.subscription;
  if (subscription === "remove") return { kind: "remove", jid };
  if (subscription !== undefined) {
    throw new RosterRequestError("bad-request", `A client may not set subscription='${subscription}'`);
  }
  const groups: string[] = [];
  for (const g of item.getChildren("group", NS.roster)) {
    const name = g.text();
    if (name === "") throw new RosterRequestError("not-acceptable", "A group name may not be empty");
    if (groups.includes(name)) throw new RosterRequestError("bad-request", `The group '${name}' is listed twice`);
    groups.push(name);
  }
  const name = item.attrs.name;
  return { kind: "set", jid, name: name === "" ? undefined : name, groups };
}
