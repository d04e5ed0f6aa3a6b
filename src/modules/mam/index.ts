// XEP-0313 Message Archive Management for accounts (urn:xmpp:mam:2, with
// urn:xmpp:mam:2#extended), XEP-0359 stanza-ids, XEP-0059 paging.
//
// Where the archive lives, and why it is not event-sourced: in its own table,
// mam_archive (migrations/030_mam.sql), one row per message per archive owner,
// beside the event log in the same SQLite database. Messages are not account
// state: no decision of the account decider depends on them, they are many
// (orders of magnitude more than roster changes), they expire by retention and
// go when the account goes. Folding them into the account's stream would make
// every account actor's load read its whole history, and a projection rebuild
// replay it. So, like offline storage, the archive is module storage: written
// in the turn's transaction (archive-store.ts: one fsync per turn, the same
// as the appends of that turn), never read by routing, and preferences kept
// in the module key-value store.
//
// Hooks:
//   message/bare, message/full at 500 (after blocking's filter at 1000, before
//     delivery and offline storage): strip stanza-ids a sender forged in the
//     name of this archive (XEP-0359 §3), archive, add ours to what is delivered.
//   pre-message/bare|full|host at 500: the same for what the user's resources
//     send (later handlers, such as sent carbons, see the stanza-id); at -1000
//     the user's own stanza-id is stripped again before the message leaves
//     (the recipient gets one from its own archive; ours is not its business).
//   iq-set/self …:query, iq-get/self …:query (the form), …:metadata, …:prefs.
//   account-deleted: the archive goes; a sweep removes what retention expired.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { Jid } from "../../jid/jid.js";
import type { Account } from "../../kernel/account.js";
import type { InboundStanza, OutboundStanza } from "../../kernel/events.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import { ArchiveStore, UnknownArchiveId, type ArchiveFilter, type ArchivePage, type Direction, type PageRequest } from "./archive-store.js";
import { decideArchiving, type MamPrefs } from "./policy.js";
import { ArchiveIds } from "./archive-ids.js";
import { loadOrCreateSecret } from "../../server/server-secret.js";
import { MAM, finElement, metadataElement, parsePrefs, parseQuery, prefsElement, queryForm, resultMessage } from "./query.js";

const PREFS_KEY = "prefs";
/** The server secret archive ids are encrypted with (archive-ids.ts). */
const ARCHIVE_ID_KEY = "mam-archive-ids";
/** Expired messages removed per sweep step, so one sweep never holds the event loop long. */
const SWEEP_BATCH = 1000;

/** XEP-0359 §3: stanza-ids claiming to be by `by` (a client cannot speak for the archive). */
function withoutStanzaIdsBy(stanza: XmlElement, by: string): XmlElement {
  const claims = (c: XmlElement) => c.name === "stanza-id" && c.ns === MAM.sid && c.attrs.by?.toLowerCase() === by;
  return stanza.getChildren().some(claims) ? stanza.withoutChildren(claims) : stanza;
}

function inRosterOf(account: Account): (bareJid: string) => boolean {
  return (bareJid) => account.roster.items.has(bareJid);
}

export const mam: ParleyModule = {
  name: "mam",
  load(api) {
    const config = api.config.mam;
    const store = new ArchiveStore(api.db, (owner) => api.joinTurn(owner), new ArchiveIds(loadOrCreateSecret(api.db, ARCHIVE_ID_KEY, 16)), config.fulltext);
    const prefsStore = api.store();
    const defaults: MamPrefs = { default: config.defaultPolicy, always: [], never: [] };
    // Preferences are read on every message: cached per running account actor
    // (its Account object), so the stanza path reads no database.
    const prefsCache = new WeakMap<Account, MamPrefs>();
    const prefsOf = (account: Account): MamPrefs => {
      let prefs = prefsCache.get(account);
      if (!prefs) {
        prefs = prefsStore.get<MamPrefs>(account.bareJid, PREFS_KEY) ?? defaults;
        prefsCache.set(account, prefs);
      }
      return prefs;
    };

    /** Archives `stanza` in the account's archive if policy says so; returns the stanza-id given, if any. */
    const archive = (account: Account, stanza: XmlElement, other: Jid, direction: Direction): string | undefined => {
      const decision = decideArchiving(stanza, other, prefsOf(account), inRosterOf(account));
      if (!decision.archive) return undefined;
      try {
        return store.append({
          owner: account.bareJid, other, direction,
          stanza: serialize(stanza, NS.client),
          originId: stanza.getChild("origin-id", MAM.sid)?.attrs.id,
          body: stanza.getChildText("body", NS.client),
        }, api.now().getTime()).id;
      } catch (err) {
        throw new Error(`cannot archive a message ${direction === "in" ? "from" : "to"} ${other.toString()} in the archive of ${account.bareJid}: ${(err as Error).message}`, { cause: err });
      }
    };

    const stamped = (stanza: XmlElement, id: string, by: string) => stanza.withChildren(el("stanza-id", MAM.sid, { id, by }));

    const inbound = (event: InboundStanza): void => {
      const { account, from } = event;
      const clean = withoutStanzaIdsBy(event.stanza, account.bareJid);
      const id = archive(account, clean, from, "in");
      const delivered = id === undefined ? clean : stamped(clean, id, account.bareJid);
      if (delivered !== event.stanza) event.stanza = delivered;
    };

    const outbound = (event: OutboundStanza): void => {
      const { account, to } = event;
      const clean = withoutStanzaIdsBy(event.stanza, account.bareJid);
      // A message to the user's own JIDs is archived once, when it arrives (inbound).
      const id = to.bare().equals(account.jid) ? undefined : archive(account, clean, to, "out");
      const next = id === undefined ? clean : stamped(clean, id, account.bareJid);
      if (next !== event.stanza) event.stanza = next;
    };

    for (const kind of ["bare", "full"] as const) api.hook(`message/${kind}`, inbound, 500);
    for (const kind of ["bare", "full", "host"] as const) {
      api.hook(`pre-message/${kind}`, outbound, 500);
      api.hook(`pre-message/${kind}`, (event) => {
        const clean = withoutStanzaIdsBy(event.stanza, event.account.bareJid);
        if (clean !== event.stanza) event.stanza = clean;
      }, -1000);
    }

    registerQueries(api, store);

    api.iq("get", "self", MAM.ns, "prefs", ({ account }) => prefsElement(prefsOf(account)));
    api.iq("set", "self", MAM.ns, "prefs", ({ account, payload }) => {
      const prefs = parsePrefs(payload, api.config.limits.rosterItems);
      prefsStore.set(account.bareJid, PREFS_KEY, prefs);
      prefsCache.set(account, prefs);
      return prefsElement(prefs);
    });

    for (const scope of ["account", "host"] as const) {
      api.addFeature(scope, MAM.ns);
      api.addFeature(scope, MAM.extended);
      api.addFeature(scope, MAM.sid);
    }

    // An archive must not reach whoever registers the name next (the kernel
    // empties the key-value store, so the preferences go too).
    api.hook("account-deleted", ({ jid }) => { store.deleteOwner(jid.bareString()); });

    if (config.retentionDays > 0) {
      const retentionMs = config.retentionDays * 86_400_000;
      let timer: NodeJS.Timeout | undefined;
      const sweep = (): void => {
        const removed = store.sweep(api.now().getTime() - retentionMs, SWEEP_BATCH);
        if (removed > 0) api.log.info("expired archived messages removed", { removed, retentionDays: config.retentionDays });
        // A full batch: more may be due; the next step in a later turn (its own transaction).
        timer = setTimeout(sweep, removed === SWEEP_BATCH ? 0 : config.sweepIntervalSeconds * 1000);
        timer.unref();
      };
      timer = setTimeout(sweep, 0);
      timer.unref();
      api.hook("server-stopping", () => { if (timer) clearTimeout(timer); });
    }
  },
};

/** XEP-0313: an id the archive does not have, in RSM or in before-id/after-id, is item-not-found. */
function pageOf(store: ArchiveStore, owner: string, filter: ArchiveFilter, page: PageRequest): ArchivePage {
  try {
    return store.query(owner, filter, page);
  } catch (err) {
    if (err instanceof UnknownArchiveId) throw new StanzaError({ condition: "item-not-found", text: err.message });
    throw new Error(`the archive query of ${owner} failed: ${(err as Error).message}`, { cause: err });
  }
}

function registerQueries(api: ModuleApi, store: ArchiveStore): void {
  const { defaultPageSize, maxPageSize, fulltext } = api.config.mam;
  const limits = { defaultPageSize, maxPageSize, fulltext };

  api.iq("get", "self", MAM.ns, "query", () => queryForm(fulltext));

  // XEP-0313 §4: results to the querying resource, then the IQ result with <fin/>.
  api.iq("set", "self", MAM.ns, "query", ({ account, payload, from, iq }) => {
    const query = parseQuery(payload, limits);
    const page = pageOf(store, account.bareJid, query.filter, query.page);
    const replyFrom = iq.attrs.to;
    const items = query.flip ? [...page.items].reverse() : page.items;
    for (const item of items) {
      const stored = parseFragment(item.stanza);
      if (!stored) {
        api.log.error("an archived message does not parse; left out of the results", { account: account.bareJid, id: item.id });
        continue;
      }
      account.deliver(from.resource, resultMessage(from.toString(), replyFrom, query.queryId, item.id, item.stamp, stored));
    }
    return finElement(page);
  });

  api.iq("get", "self", MAM.ns, "metadata", ({ account }) => metadataElement(store.edges(account.bareJid)));
}


