// RFC 6121 §2: roster get (with versioning, §2.6), set and remove, and
// roster pushes to the resources that asked for the roster (`roster/changed`,
// fired by whoever changed items: this module, subscriptions, deletions).
// When an account is deleted its contacts are told, as Prosody does: those
// who saw its presence get `unsubscribed`, those it saw get `unsubscribe`.
import { randomBytes } from "node:crypto";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import { tryParseJid } from "../../jid/jid.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Account } from "../../kernel/account.js";
import type { AccountIqRequest } from "../../kernel/events.js";
import { itemElement, removedItemElement, rosterQuery, rosterPush, parseRosterSet, RosterRequestError } from "./roster-xml.js";
import { cancellationsFor } from "../../accounts/decider/index.js";
import { el } from "../../xml/element.js";

const rosterVersion = (account: Account): string => String(account.roster.version);

/** Push the current state of these items to every interested resource (RFC 6121 §2.1.6). */
function pushRosterItems(account: Account, jids: readonly string[]): void {
  if (jids.length === 0) return;
  const ver = rosterVersion(account);
  for (const jid of jids) {
    const item = account.roster.items.get(jid);
    const payload = item ? itemElement(item) : removedItemElement(jid);
    for (const s of account.sessions.values()) {
      if (!s.interested) continue;
      s.session.send({ type: "deliver", stanza: rosterPush(s.fullJid, `push-${randomBytes(4).toString("hex")}`, ver, payload) });
    }
  }
}

/** A contact JID from a client: normalised, bare (roster items are bare JIDs). */
function contactJid(raw: string): string {
  const jid = tryParseJid(raw);
  if (!jid) throw new StanzaError({ condition: "jid-malformed", text: `'${raw}' is not a valid JID` });
  if (jid.resource !== "") throw new StanzaError({ condition: "bad-request", text: "Roster items are bare JIDs" });
  return jid.toString();
}

function rosterGet(req: AccountIqRequest) {
  const { account } = req;
  const session = account.sessions.get(req.from.resource);
  if (session) session.interested = true;
  const ver = rosterVersion(account);
  // §2.6.3: the client's version is current: an empty result, changes come as pushes.
  if (req.payload.attrs.ver !== undefined && req.payload.attrs.ver === ver) return null;
  const items = [...account.roster.items.values()].sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  return rosterQuery(ver, items.map(itemElement));
}

function rosterSet(api: ModuleApi) {
  return (req: AccountIqRequest) => {
    const { account } = req;
    let request;
    try {
      request = parseRosterSet(req.payload, { nameLength: api.config.limits.rosterNameLength, groupsPerItem: api.config.limits.rosterGroupsPerItem });
    } catch (err) {
      if (err instanceof RosterRequestError) throw new StanzaError({ condition: err.condition, text: err.message });
      throw err;
    }
    const jid = contactJid(request.jid);
    const by = { kind: "user" as const, resource: req.from.resource };
    const effects = api.accounts.execute(account,
      request.kind === "set" ? { kind: "roster.set", jid, name: request.name, groups: request.groups } : { kind: "roster.remove", jid }, by);
    // RFC 6121 §2.3.2: the pushes (and §2.5.3's presence to the contact) follow the result.
    req.afterReply(() => api.accounts.carryOut(account, effects));
    return null;
  };
}

export const roster: ParleyModule = {
  name: "roster",
  load(api) {
    api.iq("get", "self", NS.roster, "query", rosterGet);
    api.iq("set", "self", NS.roster, "query", rosterSet(api));
    // RFC 6121 §2.1.5: nobody else may read or change a user's roster.
    api.iq("get", "bare", NS.roster, "query", () => { throw new StanzaError({ condition: "service-unavailable" }); });
    api.iq("set", "bare", NS.roster, "query", () => { throw new StanzaError({ condition: "forbidden" }); });
    api.hook("roster/changed", ({ account, jids }) => pushRosterItems(account, jids));
    // As Prosody's mod_roster does: clients look for it before using the roster.
    api.addFeature("host", NS.roster);
    // RFC 6121 §2.6.1: roster versioning.
    api.hook("stream-features", ({ stage, features }) => { if (stage === "post-auth") features.push(el("ver", NS.rosterVer)); });
    // RFC 6121 §2.5.2 (and Prosody on deletion): a deleted user's contacts stop
    // seeing it as subscribed; their servers (here, their actors) record it.
    api.hook("account-deleted", ({ jid, rosterBefore }) => {
      const from = jid.bareString();
      // The decider's §2.5.3 sequence for each contact, as if the item were removed; a
      // deleted account has no resources, so only the presence from its bare JID is sent.
      for (const contact of new Set([...rosterBefore.items.keys(), ...rosterBefore.pendingIn.keys()])) {
        for (const e of cancellationsFor(rosterBefore, contact)) {
          if (e.kind === "presence") api.route(el("presence", NS.client, { type: e.type, from, to: e.to }));
        }
      }
    });
  },
};
