// XEP-0160 offline storage: chat and normal messages for a user with no
// available resource (`message/offline`), kept in SQLite until a resource
// sends non-negative initial presence (`presence/initial`). Messages are not
// events: they are delivered once and gone; an account's go with it.
import { el, type XmlElement } from "../../xml/element.js";
import { serialize } from "../../xml/serialize.js";
import { NS } from "../../xmpp/namespaces.js";
import { parseFragment } from "../../xml/fragment.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { ParleyModule } from "../../kernel/module-api.js";
import { OfflineStore, OfflineStoreFull } from "./offline-store.js";
import { tryParseJid } from "../../jid/jid.js";
import { isBlocked } from "../../blocking/blocklist.js";

const CHATSTATES = "http://jabber.org/protocol/chatstates";

/** Worth keeping for later: anything but a bare chat state notification. */
function isStorable(stanza: XmlElement): boolean {
  return stanza.children.some((c) => typeof c !== "string" && c.ns !== CHATSTATES);
}

export const offline: ParleyModule = {
  name: "offline",
  load(api) {
    const { offlineMessagesPerAccount, offlineMessagesPerSender, offlineBytesPerAccount } = api.config.limits;
    const store = new OfflineStore(api.db, { perAccount: offlineMessagesPerAccount, perSender: offlineMessagesPerSender, bytesPerAccount: offlineBytesPerAccount }, (account) => api.joinTurn(account));
    api.hook("message/offline", ({ account, stanza, from }) => {
      if (!isStorable(stanza)) return HANDLED; // a chat state alone is not worth keeping, nor an error
      try {
        store.store(account.bareJid, from.bareString(), serialize(stanza, NS.client), api.now().toISOString());
      } catch (err) {
        if (!(err instanceof OfflineStoreFull)) throw err;
        api.log.warn("offline storage full", { account: account.bareJid, sender: from.bareString(), why: err.why });
        api.bounce(stanza, { condition: "service-unavailable", text: "The recipient is offline and their message storage is full" });
      }
      return HANDLED;
    });
    // XEP-0160 §4: stored messages go, with a delay stamp, to the first resource with non-negative priority.
    api.hook("presence/initial", ({ account, session }) => {
      if (session.priority < 0) return;
      for (const stored of store.list(account.bareJid)) {
        const original = parseFragment(stored.stanza);
        if (!original) {
          api.log.error("dropping unparsable offline message", { account: account.bareJid, id: stored.id });
          store.remove(account.bareJid, stored.id);
          continue;
        }
        // XEP-0191 §3.5: blocked since it was stored: it is not delivered now either.
        const sender = tryParseJid(stored.sender);
        if (sender && isBlocked(account.roster, sender)) {
          store.remove(account.bareJid, stored.id);
          continue;
        }
        // Removed only once handed to a resource that is still there (in this turn's
        // transaction, so a crash before the output leaves keeps it too).
        const delivered = account.deliver(session.resource, original.withChildren(
          el("delay", NS.delay, { from: account.jid.domain, stamp: stored.storedAt })));
        if (!delivered) break;
        store.remove(account.bareJid, stored.id);
      }
    });
    // A deleted account's messages must not reach whoever registers the name next.
    api.hook("account-deleted", ({ jid }) => store.deleteAll(jid.bareString()));
  },
};
