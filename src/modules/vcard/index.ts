// XEP-0054 vcard-temp: the user sets and reads its own vCard, anyone may read
// it at the user's bare JID (§3.1, as Prosody answers). Stored in the module
// key-value store (not account state: nothing decides on it), bounded by
// [pubsub] max_vcard_bytes, written inside the turn so the result follows the
// write to disk. XEP-0153: a PHOTO's SHA-1 goes into the user's presence as
// <x xmlns='vcard-temp:x:update'><photo/></x>. XEP-0398: the photo is kept in
// step with the XEP-0084 avatar on PEP, both ways (through the pep/* hooks).
import { createHash } from "node:crypto";
import { el, type XmlElement } from "../../xml/element.js";
import { serialize } from "../../xml/serialize.js";
import { parseFragment } from "../../xml/fragment.js";
import { StanzaError } from "../../xmpp/errors.js";
import type { ModuleApi, ParleyModule } from "../../kernel/module-api.js";
import type { Account } from "../../kernel/account.js";
import type { HookPayloads } from "../../kernel/events.js";

export const NS_VCARD = "vcard-temp";
export const NS_VCARD_UPDATE = "vcard-temp:x:update";
export const NS_AVATAR_DATA = "urn:xmpp:avatar:data";
export const NS_AVATAR_METADATA = "urn:xmpp:avatar:metadata";
export const NS_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";
const AVATAR_OPTIONS: ReadonlyMap<string, string[]> = new Map([["pubsub#access_model", ["open"]]]);

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
    /** bare JID → its photo's hash ("" for none), for accounts with sessions. */
    const hashes = new Map<string, string>();
    const photoOf = (jid: string): string => {
      let hash = hashes.get(jid);
      if (hash === undefined) hashes.set(jid, (hash = read(jid)?.photoHash ?? ""));
      return hash;
    };
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
    const save = (jid: string, vcardEl: XmlElement): StoredVcard => {
      const xml = serialize(vcardEl);
      if (Buffer.byteLength(xml) > limit) throw new StanzaError({ condition: "not-acceptable", text: `A vCard is limited to ${limit} bytes` });
      const stored: StoredVcard = { xml, photoHash: photoHash(vcardEl) };
      api.joinTurn();
      store.set(jid, "vcard", stored);
      if (hashes.has(jid)) hashes.set(jid, stored.photoHash);
      return stored;
    };

    /** Publishes as the owner; a node made otherwise (its own access model) takes the item without our options. */
    const publish = (account: Account, node: string, id: string, payload: XmlElement): boolean => {
      for (const options of [AVATAR_OPTIONS, new Map<string, string[]>()]) {
        const p: HookPayloads["pep/publish"] = { account, node, id, payload, options };
        if (!api.fire("pep/publish", p)) return false; // no PEP here
        if (!p.error) return true;
        if (p.error.condition !== "conflict") break;
      }
      api.log.info("the vCard photo was not published as an avatar", { account: account.bareJid, node });
      return false;
    };

    /** XEP-0398 §3: a vCard photo becomes the XEP-0084 avatar (data first, then metadata). */
    const photoToAvatar = (account: Account, vcardEl: XmlElement, hash: string): void => {
      const photo = vcardEl.getChild("PHOTO", NS_VCARD);
      const binval = photo?.getChildText("BINVAL", NS_VCARD)?.replace(/\s+/g, "");
      if (hash === "" || binval === undefined) {
        const had = { account, node: NS_AVATAR_METADATA, found: false, items: [] as { id: string; payload: XmlElement | undefined }[] };
        api.fire("pep/items", had);
        if (had.found && had.items.some((i) => i.payload?.getChild("info", NS_AVATAR_METADATA))) {
          publish(account, NS_AVATAR_METADATA, "current", el("metadata", NS_AVATAR_METADATA)); // XEP-0084 §4.6: no avatar
        }
        return;
      }
      const bytes = Buffer.from(binval, "base64").length;
      const type = photo?.getChildText("TYPE", NS_VCARD) ?? "image/png";
      if (!publish(account, NS_AVATAR_DATA, hash, el("data", NS_AVATAR_DATA, {}, binval))) return;
      publish(account, NS_AVATAR_METADATA, hash, el("metadata", NS_AVATAR_METADATA, {}, el("info", NS_AVATAR_METADATA, { id: hash, bytes: String(bytes), type })));
    };

    api.iq("set", "self", NS_VCARD, "vCard", (req) => {
      const stored = save(req.account.bareJid, req.payload);
      photoToAvatar(req.account, req.payload, stored.photoHash);
      return null;
    });

    // XEP-0398 §4: an avatar published on PEP becomes the vCard's photo.
    api.hook("pep/published", (p) => {
      if (p.node !== NS_AVATAR_METADATA || !p.payload?.is("metadata", NS_AVATAR_METADATA)) return;
      const info = p.payload.getChild("info", NS_AVATAR_METADATA);
      const current = read(p.account.bareJid);
      const base = (current && parseFragment(current.xml)) ?? el("vCard", NS_VCARD);
      if ((info?.attrs.id ?? "") === (current?.photoHash ?? "")) return;
      const withoutPhoto = base.withoutChildren((c) => c.name === "PHOTO" && c.ns === NS_VCARD);
      if (!info?.attrs.id) {
        save(p.account.bareJid, withoutPhoto);
        return;
      }
      const data = { account: p.account, node: NS_AVATAR_DATA, found: false, items: [] as { id: string; payload: XmlElement | undefined }[] };
      api.fire("pep/items", data);
      const binval = data.items.find((i) => i.id === info.attrs.id)?.payload?.text();
      if (binval === undefined) return; // the data is not here (an avatar hosted at a URL): nothing to copy
      try {
        save(p.account.bareJid, withoutPhoto.withChildren(el("PHOTO", NS_VCARD, {},
          el("TYPE", NS_VCARD, {}, info.attrs.type ?? "image/png"), el("BINVAL", NS_VCARD, {}, binval.replace(/\s+/g, "")))));
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        api.log.info("the avatar was not copied into the vCard", { account: p.account.bareJid, reason: err.message });
      }
    });
    api.addFeature("account", NS_CONVERSION);

    // XEP-0153 §4.2: the server adds the photo's hash, or an empty <photo/> for
    // none, to available presence whose client announced nothing (Prosody's
    // mod_vcard_legacy does the same, directed presence to rooms included).
    // The hash is kept in memory while the account has sessions: presence reads
    // no database after the first.
    for (const hook of ["pre-presence/bare", "pre-presence/full", "pre-presence/host"] as const) {
      api.hook(hook, (e) => {
        if (e.stanza.attrs.type !== undefined || e.stanza.getChild("x", NS_VCARD_UPDATE)) return;
        const hash = photoOf(e.account.bareJid);
        e.stanza = e.stanza.withChildren(el("x", NS_VCARD_UPDATE, {}, el("photo", NS_VCARD_UPDATE, {}, ...(hash === "" ? [] : [hash]))));
      }, 150);
    }
    api.hook("resource-unbind", ({ account, session }) => {
      if ([...account.sessions.values()].every((s) => s === session)) hashes.delete(account.bareJid);
    });
    api.hook("account-deleted", ({ jid }) => { hashes.delete(jid.bareString()); });
  },
};
