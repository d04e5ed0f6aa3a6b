// XEP-0049 Private XML Storage: one element per namespace for the user
// alone, in the module key-value store, bounded by [pubsub] max_private_bytes
// and max_private_elements. XEP-0048 bookmarks kept there (storage:bookmarks)
// are bridged both ways with XEP-0402 PEP bookmarks (urn:xmpp:bookmarks:1),
// as Prosody's mod_bookmarks does: PEP is where they live; a legacy client
// reads them back from it, and its writes become PEP items (§5.3 of XEP-0402,
// the #compat feature).
import { el, type XmlElement } from "../../xml/element.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { Account } from "../../kernel/account.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { HookPayloads } from "../../kernel/events.js";

type PepPublish = HookPayloads["pep/publish"];

export const NS_PRIVATE = "jabber:iq:private";
export const NS_LEGACY_BOOKMARKS = "storage:bookmarks";
export const NS_BOOKMARKS = "urn:xmpp:bookmarks:1";

/** XEP-0402 §3: the options every bookmarks item is published with. */
export const BOOKMARK_OPTIONS: ReadonlyMap<string, string[]> = new Map([
  ["pubsub#persist_items", ["true"]], ["pubsub#max_items", ["max"]], ["pubsub#send_last_published_item", ["never"]], ["pubsub#access_model", ["whitelist"]],
]);

const isTrue = (v: string | undefined) => v === "1" || v === "true";

/** XEP-0048 <conference/> → XEP-0402 item (id = the room's JID). */
export function toPepBookmark(c: XmlElement): { id: string; payload: XmlElement } | undefined {
  const jid = c.attrs.jid;
  if (jid === undefined) return undefined;
  const nick = c.getChildText("nick", NS_LEGACY_BOOKMARKS);
  const password = c.getChildText("password", NS_LEGACY_BOOKMARKS);
  return {
    id: jid,
    payload: el("conference", NS_BOOKMARKS, { name: c.attrs.name, autojoin: isTrue(c.attrs.autojoin) ? "true" : undefined },
      nick === undefined ? undefined : el("nick", NS_BOOKMARKS, {}, nick),
      password === undefined ? undefined : el("password", NS_BOOKMARKS, {}, password)),
  };
}

/** XEP-0402 item → XEP-0048 <conference/>. */
export function toLegacyBookmark(id: string, payload: XmlElement): XmlElement {
  const nick = payload.getChildText("nick", NS_BOOKMARKS);
  const password = payload.getChildText("password", NS_BOOKMARKS);
  return el("conference", NS_LEGACY_BOOKMARKS, { jid: id, name: payload.attrs.name, autojoin: isTrue(payload.attrs.autojoin) ? "true" : "false" },
    nick === undefined ? undefined : el("nick", NS_LEGACY_BOOKMARKS, {}, nick),
    password === undefined ? undefined : el("password", NS_LEGACY_BOOKMARKS, {}, password));
}

const keyOf = (e: XmlElement) => `${e.name} ${e.ns}`;

export const privateStorage: ParleyModule = {
  name: "private",
  load(api: ModuleApi) {
    const store = api.store();
    const { maxPrivateBytes, maxPrivateElements } = api.config.pubsub;

    const pepItems = (account: Account, node: string) => {
      const p = { account, node, found: false, items: [] as { id: string; payload: XmlElement | undefined }[] };
      return api.fire("pep/items", p) && p.found ? p.items : undefined;
    };

    /** The legacy bookmarks a client reads: PEP's conferences, and the stored rest (URLs). */
    const legacyBookmarks = (account: Account, stored: XmlElement | undefined): XmlElement | undefined => {
      const items = pepItems(account, NS_BOOKMARKS);
      if (!items) return stored;
      const rest = stored?.getChildren().filter((c) => c.name !== "conference") ?? [];
      const conferences = items.flatMap((i) => (i.payload?.is("conference", NS_BOOKMARKS) ? [toLegacyBookmark(i.id, i.payload)] : []));
      return el("storage", NS_LEGACY_BOOKMARKS, {}, ...conferences, ...rest);
    };

    /** A legacy client's write: its conferences become the PEP bookmarks, the ones it left out retracted. */
    const syncToPep = (account: Account, storage: XmlElement): void => {
      const before = new Set((pepItems(account, NS_BOOKMARKS) ?? []).map((i) => i.id));
      for (const c of storage.getChildren("conference", NS_LEGACY_BOOKMARKS)) {
        const item = toPepBookmark(c);
        if (!item) continue;
        before.delete(item.id);
        const p: PepPublish =
          { account, node: NS_BOOKMARKS, id: item.id, payload: item.payload, options: BOOKMARK_OPTIONS };
        api.fire("pep/publish", p);
        if (p.error) throw new StanzaError(p.error);
      }
      for (const id of before) api.fire("pep/retract", { account, node: NS_BOOKMARKS, id });
    };

    const onlyChild = (query: XmlElement): XmlElement => {
      const children = query.getChildren();
      const [child] = children;
      // §3: exactly one element, in a namespace of its own.
      if (children.length !== 1 || !child) throw new StanzaError({ condition: "not-acceptable", text: "Private storage takes exactly one element" });
      if (child.ns === NS_PRIVATE || child.ns === "jabber:client") throw new StanzaError({ condition: "not-acceptable", text: "That namespace cannot be stored" });
      return child;
    };

    api.iq("get", "self", NS_PRIVATE, "query", (req) => {
      const wanted = onlyChild(req.payload);
      const raw = store.get<string>(req.account.bareJid, keyOf(wanted));
      let stored = raw === undefined ? undefined : parseFragment(raw);
      if (wanted.is("storage", NS_LEGACY_BOOKMARKS)) stored = legacyBookmarks(req.account, stored);
      return el("query", NS_PRIVATE, {}, stored ?? el(wanted.name, wanted.ns));
    });

    api.iq("set", "self", NS_PRIVATE, "query", (req) => {
      const element = onlyChild(req.payload);
      const xml = serialize(element);
      if (Buffer.byteLength(xml) > maxPrivateBytes) throw new StanzaError({ condition: "not-acceptable", text: `A stored element is limited to ${maxPrivateBytes} bytes` });
      const key = keyOf(element);
      const keys = store.keys(req.account.bareJid);
      if (!keys.includes(key) && keys.length >= maxPrivateElements) {
        throw new StanzaError({ condition: "resource-constraint", text: `At most ${maxPrivateElements} elements are stored per account` });
      }
      if (element.is("storage", NS_LEGACY_BOOKMARKS)) {
        guarded(() => syncToPep(req.account, element));
      }
      api.joinTurn();
      store.set(req.account.bareJid, key, xml);
      if (element.is("storage", NS_LEGACY_BOOKMARKS)) guarded(() => refreshLegacyPep(req.account));
      return null;
    });

    // XEP-0048 §3.2 kept bookmarks on PEP too (node storage:bookmarks, one item
    // holding the whole <storage/>; Converse.js still does): a legacy PEP write
    // becomes the XEP-0402 items, and while that node exists it is rewritten
    // from them when they change. `syncing` keeps each bridge from answering
    // the other's writes.
    let syncing = false;
    const guarded = (action: () => void) => {
      if (syncing) return;
      syncing = true;
      try {
        action();
      } finally {
        syncing = false;
      }
    };
    const refreshLegacyPep = (account: Account) => {
      if (!pepItems(account, NS_LEGACY_BOOKMARKS)) return; // nobody uses the legacy node
      const raw = store.get<string>(account.bareJid, `storage ${NS_LEGACY_BOOKMARKS}`);
      const storage = legacyBookmarks(account, raw === undefined ? undefined : parseFragment(raw)) ?? el("storage", NS_LEGACY_BOOKMARKS);
      api.fire("pep/publish", { account, node: NS_LEGACY_BOOKMARKS, id: "current", payload: storage, options: new Map() });
    };
    api.hook("pep/published", (p) => {
      if (p.node === NS_LEGACY_BOOKMARKS && p.payload?.is("storage", NS_LEGACY_BOOKMARKS)) {
        const storage = p.payload;
        guarded(() => {
          try {
            syncToPep(p.account, storage);
          } catch (err) {
            if (!(err instanceof StanzaError)) throw err;
            api.log.info("legacy PEP bookmarks were not copied to XEP-0402", { account: p.account.bareJid, reason: err.message });
          }
        });
      } else if (p.node === NS_BOOKMARKS) {
        guarded(() => refreshLegacyPep(p.account));
      }
    });
    api.hook("pep/retracted", (p) => {
      if (p.node === NS_BOOKMARKS) guarded(() => refreshLegacyPep(p.account));
    });

    for (const type of ["get", "set"] as const) {
      api.iq(type, "bare", NS_PRIVATE, "query", () => {
        throw new StanzaError({ condition: "forbidden", text: "Private storage is the owner's alone" });
      });
    }
    // XEP-0402 §3.3: legacy bookmarks are kept in step with PEP ones.
    api.addFeature("account", `${NS_BOOKMARKS}#compat`);
    api.addFeature("host", NS_PRIVATE);
  },
};
