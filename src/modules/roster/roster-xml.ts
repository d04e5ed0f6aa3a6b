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

export interface RosterItemLimits {
  /** Characters in the item's name and in each group name. */
  readonly nameLength: number;
  readonly groupsPerItem: number;
}

/**
 * RFC 6121 §2.3.3: exactly one item; `subscription` only as "remove"; group
 * names non-empty and unique; a name or group longer than the server's limit,
 * or more groups than it allows, is not-acceptable. Checked in one linear
 * pass, before anything else is done with the request. The JID is returned
 * as written: the caller normalises it.
 */
export function parseRosterSet(query: XmlElement, limits: RosterItemLimits = { nameLength: Infinity, groupsPerItem: Infinity }): RosterSetRequest {
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
  const name = item.attrs.name;
  if (name !== undefined && name.length > limits.nameLength) {
    throw new RosterRequestError("not-acceptable", `An item's name is at most ${limits.nameLength} characters`);
  }
  const groups = new Set<string>();
  for (const g of item.getChildren("group", NS.roster)) {
    if (groups.size >= limits.groupsPerItem) throw new RosterRequestError("not-acceptable", `An item is in at most ${limits.groupsPerItem} groups`);
    const group = g.text();
    if (group === "") throw new RosterRequestError("not-acceptable", "A group name may not be empty");
    if (group.length > limits.nameLength) throw new RosterRequestError("not-acceptable", `A group name is at most ${limits.nameLength} characters`);
    if (groups.has(group)) throw new RosterRequestError("bad-request", `The group '${group.slice(0, 64)}' is listed twice`);
    groups.add(group);
  }
  return { kind: "set", jid, name: name === "" ? undefined : name, groups: [...groups] };
}
