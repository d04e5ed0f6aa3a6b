// `parley import-prosody DIR` (issue 20, part 3): a Prosody user base into
// Parley. Each account's stream gets, in one append, AccountRegistered with
// the SCRAM keys Prosody kept (mod_auth_internal_hashed: SCRAM-SHA-1 only,
// RFC 5802 §3 StoredKey/ServerKey, hex), then its roster (RFC 6121 §2.1:
// items, subscription states, pending out `ask`, pending-in requests kept by
// rostermanager as roster[false].pending) and its XEP-0191 block list
// (mod_blocklist). Every event's cause is "imported from Prosody". Offline
// messages (XEP-0160), MAM archives (XEP-0313), vCards (XEP-0054, mod_vcard)
// and private XML (XEP-0049) are not events: they go to their tables and the
// module key-value store, keyed as src/modules/vcard and src/modules/private
// read them. PEP nodes (mod_pep) become pubsub node events with their items
// (src/modules/pubsub). Everything is one transaction: a failure imports nothing.
//
// Prosody 0.12 keeps no SCRAM-SHA-256 keys and no password, so imported
// accounts have SCRAM-SHA-1 (and PLAIN, checked against the SHA-1 keys) until
// their password is next set. An account stored in cleartext
// (internal_plain) gets both hashes, as a new Parley account does.
import type { EventStore } from "../../events/store.js";
import { accountStreamId, type EventCause, type NewEvent } from "../../events/types.js";
import { parseJid, JidError, type Jid } from "../../jid/jid.js";
import { serialize } from "../../xml/serialize.js";
import { el, XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { credentialsForAsync } from "../../accounts/account-service.js";
import { accountExists } from "../../accounts/account-service.js";
import type { ScramCredential } from "../../sasl/credentials.js";
import { OfflineStore, OfflineStoreFull } from "../../modules/offline/offline-store.js";
import { SqliteModuleStore } from "../../kernel/module-store.js";
import { photoHash } from "../../modules/vcard/index.js";
import { storedRequest } from "../../modules/presence/subscriptions.js";
import { defaultConfig as defaultNodeConfig, nodeStreamId } from "../../modules/pubsub/node.js";
import { applyConfig } from "../../modules/pubsub/forms.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { ServerConfig } from "../../config.js";
import { LuaDataError, LuaTable, type LuaValue } from "./lua-data.js";
import { ProsodyDataDir, stanzaFrom } from "./prosody-store.js";

export const IMPORT_CAUSE: EventCause = { kind: "server", reason: "imported from Prosody" };

/** Stores this import reads; any other is reported as skipped. */
const READ_STORES = new Set(["accounts", "roster", "blocklist", "offline", "archive", "vcard", "private", "pep"]);
/** What Parley has no place for yet, by store: said in the report. */
const NOT_SUPPORTED: Record<string, string> = {
  vcard4: "vCard4 (XEP-0292): Parley has no vCard storage yet",
  privacy: "privacy lists (XEP-0016): Parley does not implement them; mod_blocklist's block list is imported",
  account_details: "registration details (XEP-0077 fields such as email): Parley keeps none",
  account_roles: "Prosody account roles: give admins with [server] admins",
  cron: "Prosody's task schedule",
  smacks_h: "stream management counters",
  lastlog: "last login times",
  tokenauth: "Prosody's authentication tokens",
};

export interface ImportReport {
  accounts: number;
  scramSha1Only: number;
  rosterItems: number;
  pendingIn: number;
  blocked: number;
  offline: number;
  archived: number;
  vcards: number;
  privateElements: number;
  pepNodes: number;
  pepItems: number;
  skipped: string[];
}

export interface ImportOptions {
  readonly dryRun?: boolean;
  readonly now?: () => Date;
}

interface PreparedAccount {
  jid: string;
  events: NewEvent[];
  offline: { sender: string; stanza: string; storedAt: string }[];
  /** XEP-0054: the vCard, serialised, as src/modules/vcard keeps it. */
  vcard: { xml: string; photoHash: string } | undefined;
  /** XEP-0049: key (`name namespace`, as src/modules/private keys them) → the element, serialised. */
  privateXml: [string, string][];
  /** XEP-0163: nodes as events on their streams, items for pubsub_items (src/modules/pubsub). */
  pep: { node: string; events: NewEvent[]; items: { id: string; publisher: string; payload: string; published: string }[] }[];
  archive: { withJid: Jid; direction: "in" | "out"; stamp: number; stanza: string; body: string | undefined; originId: string | undefined }[];
}

class DryRun extends Error {}

function jidOrUndefined(s: string): Jid | undefined {
  try {
    return parseJid(s);
  } catch (err) {
    if (err instanceof JidError) return undefined;
    throw err;
  }
}

const hexToBase64 = (hex: string, file: string): string => {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new LuaDataError(file, 0, "a SCRAM key is not hexadecimal");
  return Buffer.from(hex, "hex").toString("base64");
};

/** mod_auth_internal_hashed's record as SCRAM-SHA-1 keys; a cleartext password (internal_plain) as both hashes. */
async function credentialsOf(record: LuaValue, file: string, iterations: number): Promise<{ credentials: ScramCredential[]; sha1Only: boolean } | string> {
  if (!(record instanceof LuaTable)) return "its account record is not a table";
  const plain = record.string("password");
  const stored = record.string("stored_key");
  const server = record.string("server_key");
  const salt = record.string("salt");
  const count = record.number("iteration_count");
  // A cleartext password (internal_plain, or left over from it) gives SCRAM-SHA-256 keys too.
  if (plain !== undefined) return { credentials: await credentialsForAsync(plain, iterations), sha1Only: false };
  if (stored !== undefined && server !== undefined && salt !== undefined && count !== undefined) {
    if (!Number.isSafeInteger(count) || count < 1) return `its iteration count ${count} is not a positive whole number`;
    return {
      credentials: [{ hash: "SHA-1", salt: Buffer.from(salt, "utf8").toString("base64"), iterations: count, storedKey: hexToBase64(stored, file), serverKey: hexToBase64(server, file) }],
      sha1Only: true,
    };
  }
  return "its account record has neither SCRAM keys nor a password (a disabled or half-made account)";
}

/** A stored stanza without what Prosody added when storing it: its `stamp` and its own stanza-ids (XEP-0359 §3.1). */
function cleaned(stanza: XmlElement, host: string, owner: string): XmlElement {
  const attrs = { ...stanza.attrs };
  delete attrs.stamp;
  delete attrs.stamp_legacy;
  const kids = stanza.children.filter((c) => typeof c === "string" || !(c.name === "stanza-id" && c.ns === "urn:xmpp:sid:0" && (c.attr("by") === owner || c.attr("by") === host)));
  return new XmlElement(stanza.name, stanza.ns, attrs, kids);
}

function bodyOf(stanza: XmlElement): string | undefined {
  const body = stanza.getChild("body", NS.client);
  if (!body) return undefined;
  return body.children.filter((c): c is string => typeof c === "string").join("");
}

function rosterEvents(roster: LuaValue, owner: string, file: string, at: string, report: ImportReport, skip: (s: string) => void, limits: ServerConfig["limits"]): NewEvent[] {
  const events: NewEvent[] = [];
  const meta = { by: IMPORT_CAUSE, at };
  const push = (type: string, payload: unknown) => events.push({ type, payload, meta });
  if (!(roster instanceof LuaTable)) throw new LuaDataError(file, 0, "the roster is not a table");
  let items = 0;
  for (const [key, value] of roster.entries) {
    if (key === false || typeof key !== "string") continue;
    const contact = jidOrUndefined(key);
    if (!contact || contact.resource !== "" || !(value instanceof LuaTable)) {
      skip(`${owner}: roster item '${key}' (not a bare JID)`);
      continue;
    }
    const jid = contact.bareString();
    // The same bound as a roster set (limits.roster_items): the rest is reported, not kept.
    if (items >= limits.rosterItems) {
      skip(`${owner}: roster item ${jid} (beyond roster_items = ${limits.rosterItems})`);
      continue;
    }
    items++;
    const groups = [...(value.table("groups")?.entries ?? new Map())].filter(([g, v]) => typeof g === "string" && v === true).map(([g]) => g as string).sort();
    const name = value.string("name");
    push("RosterItemSet", name !== undefined && name !== "" ? { jid, name, groups } : { jid, groups });
    const sub = value.string("subscription") ?? "none";
    if (!["none", "to", "from", "both"].includes(sub)) skip(`${owner}: the subscription '${sub}' of ${jid} (kept as none)`);
    if (sub === "to" || sub === "both") push("SubscriptionGranted", { jid });
    if (sub === "from" || sub === "both") push("ContactApproved", { jid });
    if (value.string("ask") === "subscribe") push("SubscriptionRequested", { jid });
    if (value.get("approved") === true) push("ContactPreApproved", { jid });
    report.rosterItems++;
  }
  // Pending-in requests (RFC 6121 §3.1.3): the stored request, or `true` in older data.
  const pending = roster.table(false)?.table("pending");
  for (const [key, value] of pending?.entries ?? []) {
    const contact = typeof key === "string" ? jidOrUndefined(key) : undefined;
    if (!contact) {
      skip(`${owner}: pending request from '${String(key)}' (not a JID)`);
      continue;
    }
    const jid = contact.bareString();
    const original = value instanceof LuaTable ? stanzaFrom(value, file) : undefined;
    const request = el("presence", NS.client, { from: jid, to: owner, type: "subscribe" },
      ...(original?.children.filter((c): c is XmlElement => typeof c !== "string") ?? []));
    push("SubscriptionRequestReceived", { jid, stanza: storedRequest(request, limits.subscriptionRequestBytes) });
    report.pendingIn++;
  }
  return events;
}

function blockEvents(list: LuaValue, owner: string, file: string, at: string, report: ImportReport, skip: (s: string) => void, limits: ServerConfig["limits"]): NewEvent[] {
  if (!(list instanceof LuaTable)) throw new LuaDataError(file, 0, "the block list is not a table");
  const jids: string[] = [];
  for (const key of list.entries.keys()) {
    if (key === false) continue;
    const jid = typeof key === "string" ? jidOrUndefined(key) : undefined;
    if (!jid) {
      skip(`${owner}: blocked '${String(key)}' (not a JID)`);
      continue;
    }
    if (jids.length >= limits.blockedItems) {
      skip(`${owner}: blocked ${jid.toString()} (beyond blocked_items = ${limits.blockedItems})`);
      continue;
    }
    jids.push(jid.toString());
  }
  report.blocked += jids.length;
  return jids.length > 0 ? [{ type: "ContactsBlocked", payload: { jids }, meta: { by: IMPORT_CAUSE, at } }] : [];
}

/**
 * mod_pep's nodes of one user (the `pep` map: node → { config, affiliations,
 * subscribers }) and their items (the `pep_<node>` archive stores), as
 * src/modules/pubsub keeps them: PubsubNodeCreated with the configuration
 * read through the same form rules as a client's (applyConfig), then the
 * affiliations and explicit subscriptions; the newest max_items items.
 */
function pepNodes(data: ProsodyDataDir, hostDir: string, user: string, owner: string, nodes: LuaValue, file: string, config: ServerConfig, at: string,
  skip: (s: string) => void): PreparedAccount["pep"] {
  if (!(nodes instanceof LuaTable)) throw new LuaDataError(file, 0, "the PEP node list is not a table");
  const out: PreparedAccount["pep"] = [];
  const meta = { by: IMPORT_CAUSE, at };
  for (const [key, value] of nodes.entries) {
    if (typeof key !== "string" || !(value instanceof LuaTable)) continue;
    if (out.length >= config.pubsub.maxNodesPerAccount) {
      skip(`${owner}: PEP node ${key} (beyond max_nodes_per_account = ${config.pubsub.maxNodesPerAccount})`);
      continue;
    }
    const options = new Map<string, string[]>();
    for (const [k, v] of value.table("config")?.entries ?? []) {
      if (typeof k !== "string") continue;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") options.set(`pubsub#${k}`, [String(v)]);
      else if (v instanceof LuaTable) options.set(`pubsub#${k}`, v.array().filter((x): x is string => typeof x === "string"));
    }
    let nodeConfig = defaultNodeConfig("pep");
    try {
      nodeConfig = applyConfig(nodeConfig, options, config.pubsub.maxItems);
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      skip(`${owner}: the configuration of PEP node ${key} (${err.message}); Prosody's defaults for PEP used`);
    }
    const events: NewEvent[] = [{ type: "PubsubNodeCreated", payload: { service: owner, node: key, owner, config: nodeConfig }, meta }];
    const affiliations = ["owner", "publisher", "publish-only", "member", "outcast"];
    for (const [jid, affiliation] of value.table("affiliations")?.entries ?? []) {
      const j = typeof jid === "string" ? jidOrUndefined(jid) : undefined;
      if (!j || typeof affiliation !== "string" || !affiliations.includes(affiliation) || j.bareString() === owner) continue;
      events.push({ type: "PubsubAffiliationChanged", payload: { service: owner, node: key, jid: j.bareString(), affiliation }, meta });
    }
    for (const [jid, on] of value.table("subscribers")?.entries ?? []) {
      const j = typeof jid === "string" ? jidOrUndefined(jid) : undefined;
      if (j && on !== false) events.push({ type: "PubsubSubscriptionChanged", payload: { service: owner, node: key, jid: j.toString(), subscribed: true }, meta });
    }
    const itemFile = data.users(hostDir, `pep_${key}`, "list").get(user);
    const items: PreparedAccount["pep"][number]["items"] = [];
    for (const item of itemFile ? data.list(itemFile) : []) {
      if (!(item instanceof LuaTable)) continue;
      const id = item.string("key");
      const payload = cleaned(stanzaFrom(item, itemFile as string, key), "", "");
      const when = item.number("when");
      if (id === undefined) continue;
      // A republished id replaces the earlier one, as in Parley's store.
      const published = new Date(Math.floor(when ?? Date.parse(at) / 1000) * 1000).toISOString();
      const existing = items.findIndex((i) => i.id === id);
      if (existing >= 0) items.splice(existing, 1);
      items.push({ id, publisher: jidOrUndefined(item.string("with") ?? owner)?.bareString() ?? owner, payload: serialize(payload), published });
    }
    const keep = nodeConfig.maxItems === "max" ? config.pubsub.maxItems : Math.min(nodeConfig.maxItems, config.pubsub.maxItems);
    if (items.length > keep) skip(`${owner}: ${items.length - keep} older items of PEP node ${key} (beyond its max_items = ${keep})`);
    out.push({ node: key, events, items: items.slice(Math.max(0, items.length - keep)) });
  }
  return out;
}

/** Reads everything first (all parse errors before any write), then writes it in one transaction. */
export async function importProsody(store: EventStore, config: ServerConfig, dir: string, options: ImportOptions = {}): Promise<ImportReport> {
  const data = new ProsodyDataDir(dir);
  const at = (options.now?.() ?? new Date()).toISOString();
  const report: ImportReport = { accounts: 0, scramSha1Only: 0, rosterItems: 0, pendingIn: 0, blocked: 0, offline: 0, archived: 0, vcards: 0, privateElements: 0, pepNodes: 0, pepItems: 0, skipped: [] };
  const skip = (s: string) => { report.skipped.push(s); };
  const prepared: PreparedAccount[] = [];
  for (const [host, hostDir] of data.hosts()) {
    if (!config.domains.includes(host)) {
      skip(`host ${host}: not a served domain (add it to domains to import it)`);
      continue;
    }
    for (const s of data.stores(hostDir)) {
      if (READ_STORES.has(s) || s.startsWith("pep_")) continue;
      const n = data.users(hostDir, s, "dat").size + data.users(hostDir, s, "list").size;
      const what = NOT_SUPPORTED[s] ?? `the store '${s}'`;
      skip(`${host}: ${what} (${n} file${n === 1 ? "" : "s"})`);
    }
    const rosters = data.users(hostDir, "roster", "dat");
    const blocklists = data.users(hostDir, "blocklist", "dat");
    const offline = data.users(hostDir, "offline", "list");
    const archives = data.users(hostDir, "archive", "list");
    const vcards = data.users(hostDir, "vcard", "dat");
    const privates = data.users(hostDir, "private", "dat");
    const peps = data.users(hostDir, "pep", "dat");
    for (const [user, file] of data.users(hostDir, "accounts", "dat")) {
      const jid = jidOrUndefined(`${user}@${host}`);
      if (!jid || jid.local === "") {
        skip(`${user}@${host}: not a valid JID`);
        continue;
      }
      const owner = jid.bareString();
      if (accountExists(store.db, owner)) {
        skip(`${owner}: already an account here (left as it is)`);
        continue;
      }
      const creds = await credentialsOf(data.keyval(file), file, config.scramIterations);
      if (typeof creds === "string") {
        skip(`${owner}: ${creds}`);
        continue;
      }
      if (creds.sha1Only) report.scramSha1Only++;
      const events: NewEvent[] = [{ type: "AccountRegistered", payload: { jid: owner, credentials: creds.credentials }, meta: { by: IMPORT_CAUSE, at } }];
      const rosterFile = rosters.get(user);
      if (rosterFile) events.push(...rosterEvents(data.keyval(rosterFile), owner, rosterFile, at, report, skip, config.limits));
      const blockFile = blocklists.get(user);
      if (blockFile) events.push(...blockEvents(data.keyval(blockFile), owner, blockFile, at, report, skip, config.limits));
      const account: PreparedAccount = { jid: owner, events, offline: [], archive: [], vcard: undefined, privateXml: [], pep: [] };
      const pepFile = peps.get(user);
      if (pepFile) account.pep = pepNodes(data, hostDir, user, owner, data.keyval(pepFile), pepFile, config, at, skip);
      const vcardFile = vcards.get(user);
      if (vcardFile) {
        const card = stanzaFrom(data.keyval(vcardFile), vcardFile, "vcard-temp");
        if (card.is("vCard", "vcard-temp")) account.vcard = { xml: serialize(card), photoHash: photoHash(card) };
        else skip(`${owner}: a stored vCard that is <${card.name} xmlns='${card.ns}'/>`);
      }
      const privateFile = privates.get(user);
      const privateData = privateFile ? data.keyval(privateFile) : null;
      if (privateData instanceof LuaTable) {
        for (const value of privateData.entries.values()) {
          const element = stanzaFrom(value, privateFile as string, "jabber:iq:private");
          account.privateXml.push([`${element.name} ${element.ns}`, serialize(element)]);
        }
      }
      const offlineFile = offline.get(user);
      for (const item of offlineFile ? data.list(offlineFile) : []) {
        const stanza = cleaned(stanzaFrom(item, offlineFile as string), host, owner);
        const when = item instanceof LuaTable ? item.number("when") : undefined;
        const from = jidOrUndefined(stanza.attr("from") ?? host);
        account.offline.push({
          sender: from?.bareString() ?? host,
          stanza: serialize(stanza, NS.client),
          storedAt: new Date(Math.floor(when ?? Date.parse(at) / 1000) * 1000).toISOString(),
        });
      }
      const archiveFile = archives.get(user);
      for (const item of archiveFile ? data.list(archiveFile) : []) {
        const stanza = cleaned(stanzaFrom(item, archiveFile as string), host, owner);
        const when = item instanceof LuaTable ? item.number("when") : undefined;
        const withJid = jidOrUndefined((item instanceof LuaTable ? item.string("with") : undefined) ?? "");
        if (when === undefined || !withJid || stanza.name !== "message") {
          skip(`${owner}: an archived ${stanza.name} without a time or a peer`);
          continue;
        }
        const from = jidOrUndefined(stanza.attr("from") ?? owner);
        const direction = from === undefined || from.bareString() === owner ? "out" : "in";
        const peer = direction === "out" ? jidOrUndefined(stanza.attr("to") ?? "") : from;
        const other = peer && peer.bareString() === withJid.bareString() ? peer : withJid;
        const originId = stanza.children.find((c): c is XmlElement => typeof c !== "string" && c.name === "origin-id" && c.ns === "urn:xmpp:sid:0")?.attr("id");
        account.archive.push({ withJid: other, direction, stamp: Math.floor(when) * 1000, stanza: serialize(stanza, NS.client), body: bodyOf(stanza), originId });
      }
      prepared.push(account);
    }
  }
  writeAll(store, config, prepared, report, skip, options.dryRun === true);
  return report;
}

function writeAll(store: EventStore, config: ServerConfig, prepared: PreparedAccount[], report: ImportReport, skip: (s: string) => void, dryRun: boolean): void {
  const db = store.db;
  const offline = new OfflineStore(db, {
    perAccount: config.limits.offlineMessagesPerAccount,
    perSender: config.limits.offlineMessagesPerSender,
    bytesPerAccount: config.limits.offlineBytesPerAccount,
  });
  // Archive order is stamp order across all archives (migrations/030_mam.sql): the
  // imported messages go in by time, and only after every message already here.
  const archived = prepared.flatMap((a) => a.archive.map((m) => ({ owner: a.jid, ...m }))).sort((x, y) => x.stamp - y.stamp);
  const newest = (db.prepare("SELECT max(stamp) AS s FROM mam_archive").get() as { s: number | null }).s;
  const archiveFits = archived.length === 0 || newest === null || (archived[0] as { stamp: number }).stamp >= newest;
  if (!archiveFits) skip(`${archived.length} archived messages: this server's archive already has newer messages, and archive order is time order`);
  const vcardStore = new SqliteModuleStore(db, "vcard");
  const privateStore = new SqliteModuleStore(db, "private");
  const insertItem = db.prepare(`INSERT INTO pubsub_items (service, node, item_id, publisher, payload, published) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (service, node, item_id) DO UPDATE SET payload = excluded.payload, published = excluded.published`);
  const insertArchive = db.prepare(`INSERT INTO mam_archive (owner, with_jid, with_resource, stamp, direction, stanza, origin_id) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const insertFulltext = db.prepare("INSERT INTO mam_fulltext (rowid, body) VALUES (?, ?)");
  try {
    db.transaction(() => {
      for (const account of prepared) {
        store.append(accountStreamId(account.jid), 0, account.events);
        report.accounts++;
        if (account.vcard) {
          vcardStore.set(account.jid, "vcard", account.vcard);
          report.vcards++;
        }
        for (const n of account.pep) {
          store.append(nodeStreamId(account.jid, n.node), 0, n.events);
          report.pepNodes++;
          for (const item of n.items) {
            insertItem.run(account.jid, n.node, item.id, item.publisher, item.payload, item.published);
            report.pepItems++;
          }
        }
        for (const [key, xml] of account.privateXml) {
          privateStore.set(account.jid, key, xml);
          report.privateElements++;
        }
        for (const m of account.offline) {
          try {
            offline.store(account.jid, m.sender, m.stanza, m.storedAt);
            report.offline++;
          } catch (err) {
            if (!(err instanceof OfflineStoreFull)) throw err;
            skip(`${account.jid}: an offline message from ${m.sender} (${err.why} is the limit)`);
          }
        }
      }
      if (archiveFits) {
        for (const m of archived) {
          const { lastInsertRowid } = insertArchive.run(m.owner, m.withJid.bareString(), m.withJid.resource, m.stamp, m.direction, m.stanza, m.originId ?? null);
          if (m.body !== undefined && m.body.trim() !== "") insertFulltext.run(lastInsertRowid, m.body);
          report.archived++;
        }
      }
      if (dryRun) throw new DryRun();
    })();
  } catch (err) {
    if (!(err instanceof DryRun)) throw err;
  }
}

/** The report as lines for the terminal. */
export function reportLines(r: ImportReport, dryRun: boolean): string[] {
  const lines = [
    `${dryRun ? "would import" : "imported"}: ${r.accounts} accounts, ${r.rosterItems} roster items, ${r.pendingIn} pending subscription requests, ` +
      `${r.blocked} blocked JIDs, ${r.offline} offline messages, ${r.archived} archived messages, ${r.vcards} vCards, ${r.privateElements} private XML elements, ${r.pepNodes} PEP nodes with ${r.pepItems} items`,
  ];
  if (r.scramSha1Only > 0) {
    lines.push(`note: ${r.scramSha1Only} accounts have SCRAM-SHA-1 keys only (Prosody keeps no SCRAM-SHA-256 ones): they log in with SCRAM-SHA-1 or PLAIN until their password is next set`);
  }
  lines.push(r.skipped.length === 0 ? "skipped: nothing" : `skipped (${r.skipped.length}):`);
  for (const s of r.skipped) lines.push(`  ${s}`);
  return lines;
}
