// XEP-0054 vcard-temp: the user sets and reads its own vCard, anyone may read
// it at the user's bare JID (§3.1, as Prosody answers). Stored in the module
// key-value store (not account state: nothing decides on it), bounded by
// [pubsub] max_vcard_bytes, written inside the turn so the result follows the
// write to disk. XEP-0153: a PHOTO's SHA-1 goes into the user's presence as
// <x xmlns='vcard-temp:x:update'><photo/></x>.
import { createHash } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";

export const NS_VCARD = "vcard-temp";
export const NS_VCARD_UPDATE = "vcard-temp:x:update";

interface StoredVcard {
  readonly xml: string;
  /** XEP-0153 §4.1: hex SHA-1 of the photo's binary data; "" when the vCard has no photo. */
  readonly photoHash: string;
}

/** §4.1 of XEP-0153: the hash of the decoded BINVAL, or "" (no photo). */
export function photoHash(vcard: XmlElement): string {
  const binval = vcard.getChild("PHOTO", NS_VCARD)?.getChildText("BINVAL", NS_VCARD);
  if (binval === undefined || binval.trim() === "") return "";
  return createHash("sha1").update(Buffer.from(binval.replace(/\s+/g, ""), "base64")).digest("hex");
}

export const vcard: ParleyModule = {
  name: "vcard",
  load(api: ModuleApi) {
    const store = api.store();
    const limit = api.config.pubsub.maxVcardBytes;
    const read = (jid: string) => store.get<StoredVcard>(jid, "vcard");
    api.addFeature("host", NS_VCARD);

    api.iq("get", "self", NS_VCARD, "vCard", (req) => {
      const stored = read(req.account.bareJid);
      return (stored && parseFragment(stored.xml)) ?? el("vCard", NS_VCARD);
    });
    api.iq("get", "bare", NS_VCARD, "vCard", (req) => {
      const stored = read(req.account.bareJid);
      const parsed = stored && parseFragment(stored.xml);
      if (!parsed) throw new StanzaError({ condition: "item-not-found" });
      return parsed;
    });
    api.iq("set", "bare", NS_VCARD, "vCard", () => {
      throw new StanzaError({ condition: "forbidden", text: "Only the owner sets its vCard" });
    });
    api.iq("set", "self", NS_VCARD, "vCard", (req) => {
      const xml = serialize(req.payload);
      if (Buffer.byteLength(xml) > limit) throw new StanzaError({ condition: "not-acceptable", text: `A vCard is limited to ${limit} bytes` });
      api.joinTurn();
      store.set(req.account.bareJid, "vcard", { xml, photoHash: photoHash(req.payload) } satisfies StoredVcard);
      return null;
    });

    // XEP-0153 §4.2: the server adds the photo hash the client did not announce.
    api.hook("pre-presence/bare", (e) => {
      if (e.addressed || e.stanza.attrs.type !== undefined || e.stanza.getChild("x", NS_VCARD_UPDATE)) return;
      const stored = read(e.account.bareJid);
      if (!stored) return;
      e.stanza = e.stanza.withChildren(el("x", NS_VCARD_UPDATE, {}, el("photo", NS_VCARD_UPDATE, {}, ...(stored.photoHash === "" ? [] : [stored.photoHash]))));
    }, 150);
  },
};
