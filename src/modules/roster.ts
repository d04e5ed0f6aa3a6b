// RFC 6121 §2: roster get (with versioning, §2.6), set and remove, and
// roster pushes to the resources that asked for the roster.
import { randomBytes } from "node:crypto";
import type { XmlElement } from "../xml/element.js";
import { NS } from "../xmpp/namespaces.js";
import { StanzaError } from "../xmpp/errors.js";
import { tryParseJid } from "../jid/jid.js";
import type { AccountContext, AccountScope, Host } from "../server/host.js";
import { itemElement, removedItemElement, rosterQuery, rosterPush, parseRosterSet, RosterRequestError } from "./roster-xml.js";
import { decideRosterRemove, decideRosterSet, RosterError } from "../roster/roster-commands.js";
import { decideAndCommit } from "./roster-store.js";
import { runEffects, sendFromBare } from "./subscription-effects.js";

const rosterVersion = (scope: AccountScope): string => String(scope.runtime.roster.version);

/** Push the current state of these items to every interested resource (RFC 6121 §2.1.6). */
export function pushRosterItems(scope: AccountScope, jids: string[]): void {
  if (jids.length === 0) return;
  const ver = rosterVersion(scope);
  for (const jid of jids) {
    const item = scope.runtime.roster.items.get(jid);
    const payload = item ? itemElement(item) : removedItemElement(jid);
    for (const s of scope.runtime.sessions.values()) {
      if (!s.interested) continue;
      s.session.send({ type: "deliver", stanza: rosterPush(s.fullJid, `push-${randomBytes(4).toString("hex")}`, ver, payload) });
    }
  }
}

/** A contact JID from a client: normalised, bare (roster items are bare JIDs). */
export function contactJid(raw: string): string {
  const jid = tryParseJid(raw);
  if (!jid) throw new StanzaError({ condition: "jid-malformed", text: `'${raw}' is not a valid JID` });
  if (jid.resource !== "") throw new StanzaError({ condition: "bad-request", text: "Roster items are bare JIDs" });
  return jid.toString();
}

function rosterGet(ctx: AccountContext, _iq: XmlElement, query: XmlElement): XmlElement | null {
  if (!ctx.self) throw new StanzaError({ condition: "service-unavailable" });
  const session = ctx.runtime.sessions.get(ctx.requester.resource);
  if (session) session.interested = true;
  const ver = rosterVersion(ctx);
  // §2.6.3: the client's version is current: an empty result, changes come as pushes.
  if (query.attrs.ver !== undefined && query.attrs.ver === ver) return null;
  const items = [...ctx.runtime.roster.items.values()].sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  return rosterQuery(ver, items.map(itemElement));
}

function rosterSet(ctx: AccountContext, _iq: XmlElement, query: XmlElement): XmlElement | null {
  if (!ctx.self) throw new StanzaError({ condition: "forbidden" });
  let request;
  try {
    request = parseRosterSet(query);
  } catch (err) {
    if (err instanceof RosterRequestError) throw new StanzaError({ condition: err.condition, text: err.message });
    throw err;
  }
  const jid = contactJid(request.jid);
  const owner = ctx.runtime.bareJid;
  const by = { kind: "user" as const, resource: ctx.requester.resource };
  try {
    if (request.kind === "set") {
      const d = decideAndCommit(ctx, by, () => decideRosterSet(ctx.runtime.roster, owner, jid, request.name, request.groups, ctx.host.config.limits.rosterItems));
      if (d.events.length > 0) ctx.afterReply(() => pushRosterItems(ctx, [jid]));
      return null;
    }
    const d = decideAndCommit(ctx, by, () => decideRosterRemove(ctx.runtime.roster, owner, jid));
    ctx.afterReply(() => {
      pushRosterItems(ctx, [jid]);
      // §2.5.3: the contact learns that both directions are cancelled.
      if (d.sends.includes("unsubscribed")) sendFromBare(ctx, "unsubscribed", jid);
      runEffects(ctx, d.effects);
      if (d.sends.includes("unsubscribe")) sendFromBare(ctx, "unsubscribe", jid);
    });
    return null;
  } catch (err) {
    if (err instanceof RosterError) throw new StanzaError({ condition: err.condition, text: err.message });
    throw err;
  }
}

export function installRoster(host: Host): void {
  host.iq.onAccount("get", NS.roster, "query", rosterGet);
  host.iq.onAccount("set", NS.roster, "query", rosterSet);
}


