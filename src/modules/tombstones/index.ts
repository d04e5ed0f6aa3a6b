// Tombstones for deleted accounts (Prosody's mod_tombstones): the name of a
// deleted account cannot be registered in-band again, so nobody can take it
// over and receive what its contacts still send to it; presence to it is
// answered with a `gone` error (RFC 6120 §8.3.3.5) and the unsubscription
// the contact's server should record: `unsubscribed` for a probe,
// `unsubscribe` for available or unavailable presence. Kept forever unless
// `tombstone_days` says otherwise: nobody can know when every remote
// service has forgotten the account.
import { el } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { errorReply } from "../../xmpp/errors.js";
import { HANDLED } from "../../kernel/hooks.js";
import type { ParleyModule } from "../../kernel/module-api.js";

export const tombstones: ParleyModule = {
  name: "tombstones",
  load(api) {
    const insert = api.db.prepare(`INSERT INTO tombstones (account, deleted_at) VALUES (?, ?)
      ON CONFLICT (account) DO UPDATE SET deleted_at = excluded.deleted_at`);
    const select = api.db.prepare("SELECT deleted_at AS deletedAt FROM tombstones WHERE account = ?");
    const remove = api.db.prepare("DELETE FROM tombstones WHERE account = ?");
    const days = api.config.tombstoneDays;

    const hasTombstone = (account: string): boolean => {
      const row = select.get(account) as { deletedAt: string } | undefined;
      if (!row) return false;
      if (days > 0 && Date.parse(row.deletedAt) + days * 86_400_000 < api.now().getTime()) {
        api.joinTurn(account);
        remove.run(account);
        return false;
      }
      return true;
    };

    api.hook("account-deleted", ({ jid }) => { api.joinTurn(); insert.run(jid.bareString(), api.now().toISOString()); });
    api.hook("user-registering", ({ jid, refuse }) => {
      if (hasTombstone(jid.bareString())) refuse(`${jid.bareString()} belonged to an account that was deleted; choose another name`);
    });
    api.hook("presence/unknown", ({ stanza, to }) => {
      const type = stanza.attrs.type;
      const probe = type === "probe";
      if (!probe && type !== undefined && type !== "unavailable") return undefined;
      const bare = to.bareString();
      if (!hasTombstone(bare)) return undefined;
      // Straight to the asking session, as Prosody answers: an unsubscribe(d) it never asked
      // for would otherwise be dropped by its own server's subscription rules.
      api.replyToOrigin(errorReply(stanza, { condition: "gone", text: "User deleted" }, bare));
      if (stanza.attrs.from !== undefined) {
        api.replyToOrigin(el("presence", NS.client, { type: probe ? "unsubscribed" : "unsubscribe", from: bare, to: stanza.attrs.from }));
      }
      return HANDLED;
    });
  },
};
