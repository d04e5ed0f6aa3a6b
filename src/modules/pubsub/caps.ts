// XEP-0115 Entity Capabilities, as PEP needs them (XEP-0163 §4.3.1): which
// `<node>+notify` features each online resource announced. A caps hash is
// verified (§5.1, §5.4) before it is cached for everyone who announces it;
// an unverifiable answer still counts for the resource that gave it.
import { createHash } from "node:crypto";
import type { XmlElement } from "../../xml/element.js";
import { NS_DATA } from "./forms.js";

export const NS_CAPS = "http://jabber.org/protocol/caps";
export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";

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
export class CapsCache {
  private readonly entries = new Map<string, ReadonlySet<string>>();
  constructor(private readonly size: number) {}

  get(key: string): ReadonlySet<string> | undefined {
    const v = this.entries.get(key);
    if (v) { this.entries.delete(key); this.entries.set(key, v); } // most recently used last
    return v;
  }

  set(key: string, features: ReadonlySet<string>): void {
    this.entries.delete(key);
    this.entries.set(key, features);
    while (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

/** The nodes a set of features asks notifications of (XEP-0163 §4.3.1: `<node>+notify`). */
export function notifyNodes(features: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const f of features) if (f.endsWith("+notify")) out.add(f.slice(0, -"+notify".length));
  return out;
}
