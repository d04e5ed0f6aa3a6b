// XEP-0198 Stream Management: the module's part. The protocol itself is the
// session's (actors/session-machine.ts, actors/stream-management.ts: acks,
// counting, resumption); here are the stream feature (§2) and what becomes of
// the stanzas a client never acknowledged when its stream ends for good (§5:
// the server "SHOULD … deliver them to another resource or store them
// offline"), in the manner of Prosody's mod_smacks:
//   - carbon copies and MAM results: dropped (the original is elsewhere, or in the archive);
//   - errors, groupchat and headline messages, presence: dropped, as offline storage drops them;
//   - other messages, when the user has no other available resource: offline storage (XEP-0160),
//     delivered at the next initial presence;
//   - when another resource is available: a message the user's archive holds (it carries the
//     archive's stanza-id) is left there, as carbons-enabled resources already have it and the
//     others find it with MAM; one not archived is bounced recipient-unavailable to its sender;
//   - IQ requests: answered recipient-unavailable, so that the requester is not left waiting.
// https://xmpp.org/extensions/xep-0198.html
import { el, type XmlElement } from "../../xml/element.js";
import { tryParseJid } from "../../jid/jid.js";
import type { ParleyModule, ModuleApi } from "../../kernel/module-api.js";
import type { Account } from "../../kernel/account.js";
import { NS_SM } from "../../actors/stream-management.js";

const NS_CARBONS = "urn:xmpp:carbons:2";
const NS_MAM = "urn:xmpp:mam:2";
const NS_SID = "urn:xmpp:sid:0";

function isCarbonCopy(m: XmlElement): boolean {
  return m.getChild("received", NS_CARBONS) !== undefined || m.getChild("sent", NS_CARBONS) !== undefined;
}

/** The user's archive holds it: the mam module stamped it with a stanza-id by the user's bare JID (XEP-0359). */
function isArchivedFor(m: XmlElement, bareJid: string): boolean {
  return m.children.some((c) => typeof c !== "string" && c.name === "stanza-id" && c.ns === NS_SID && c.attrs.by === bareJid);
}

/** What becomes of one unacknowledged stanza (see the top of the file). */
function keep(api: ModuleApi, account: Account, stanza: XmlElement): void {
  if (stanza.name === "iq") {
    if (stanza.attrs.type === "get" || stanza.attrs.type === "set") {
      api.bounce(stanza, { condition: "recipient-unavailable", text: "The recipient's connection was lost" }, account.bareJid);
    }
    return;
  }
  if (stanza.name !== "message") return;
  const type = stanza.attrs.type ?? "normal";
  if (type !== "chat" && type !== "normal") return;
  if (isCarbonCopy(stanza) || stanza.getChild("result", NS_MAM) !== undefined) return;
  const from = tryParseJid(stanza.attrs.from ?? "");
  if (!from) return;
  if (account.availableSessions().length === 0) {
    if (api.fire("message/offline", { account, stanza: stanza.withAttrs({ to: account.bareJid }), from, to: account.jid })) return;
  }
  if (isArchivedFor(stanza, account.bareJid)) return;
  api.bounce(stanza, { condition: "recipient-unavailable", text: "The recipient's connection was lost before the message arrived" }, account.bareJid);
}

export const streamManagement: ParleyModule = {
  name: "stream_management",
  load(api) {
    // §2: offered after authentication, beside resource binding.
    api.hook("stream-features", ({ stage, features }) => {
      if (stage === "post-auth") features.push(el("sm", NS_SM));
    });
    api.hook("session/unacknowledged", ({ account, stanzas }) => {
      // A deleted account's streams end with it: nothing of theirs is kept.
      if (!api.accountExists(account.bareJid)) return;
      for (const stanza of stanzas) keep(api, account, stanza);
    });
  },
};
