// XEP-0115 Entity Capabilities §5.1: the verification string of a disco#info
// result and its hash. Shared by the server's own caps (the stream feature,
// §6.3, in the disco module) and PEP's verification of clients' (modules/pubsub).
import { createHash } from "node:crypto";
import type { XmlElement } from "../xml/element.js";

export const NS_CAPS = "http://jabber.org/protocol/caps";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_DATA = "jabber:x:data";

/** §5.1: the verification string of a disco#info result, hashed with SHA-1, base64. */
export function capsHash(query: XmlElement): string {
  const esc = (s: string | undefined) => s ?? "";
  const identities = query.getChildren("identity", NS_DISCO_INFO)
    .map((i) => `${esc(i.attrs.category)}/${esc(i.attrs.type)}/${esc(i.attrs["xml:lang"])}/${esc(i.attrs.name)}`)
    .sort(octets);
  const features = query.getChildren("feature", NS_DISCO_INFO).map((f) => esc(f.attrs.var)).sort(octets);
  let s = identities.map((i) => `${i}<`).join("") + features.map((f) => `${f}<`).join("");
  const forms = query.getChildren("x", NS_DATA).map((x) => {
    const fields = x.getChildren("field", NS_DATA);
    const type = fields.find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value", NS_DATA) ?? "";
    const rest = fields.filter((f) => f.attrs.var !== "FORM_TYPE")
      .map((f) => ({ name: esc(f.attrs.var), values: f.getChildren("value", NS_DATA).map((v) => v.text()).sort(octets) }))
      .sort((a, b) => octets(a.name, b.name));
    return { type, text: `${type}<` + rest.map((f) => `${f.name}<` + f.values.map((v) => `${v}<`).join("")).join("") };
  }).sort((a, b) => octets(a.type, b.type));
  s += forms.map((f) => f.text).join("");
  return createHash("sha1").update(s, "utf8").digest("base64");
}

/** §5.1 sorts by "i;octet" collation: byte order of the UTF-8 strings. */
function octets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Verified caps: node#ver → features, the oldest forgotten past `size`. */
