// Serialising elements to XML text (RFC 6120 §11: UTF-8, no declarations
// other than the stream header's). Escaping checks with one regex test and
// returns the input untouched in the common case.
import type { XmlElement } from "./element.js";
import { NS } from "../xmpp/namespaces.js";

const TEXT_SPECIAL = /[&<>]/;
const ATTR_SPECIAL = /[&<>"']/;

export function escapeText(s: string): string {
  if (!TEXT_SPECIAL.test(s)) return s;
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeAttr(s: string): string {
  if (!ATTR_SPECIAL.test(s)) return s;
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/**
 * `parentNs` is the default namespace in scope where the element is written
 * (jabber:client for a stanza on a c2s stream). Elements in the stream
 * namespace use the `stream:` prefix that the stream header declares.
 */
export function serialize(el: XmlElement, parentNs?: string): string {
  const out: string[] = [];
  write(el, parentNs, out);
  return out.join("");
}

function write(el: XmlElement, parentNs: string | undefined, out: string[]): void {
  const prefixed = el.ns === NS.stream;
  const tag = prefixed ? `stream:${el.name}` : el.name;
  let open = "<" + tag;
  let childNs = parentNs;
  if (!prefixed && el.ns !== parentNs) {
    open += ` xmlns='${escapeAttr(el.ns)}'`;
    childNs = el.ns;
  }
  const attrs = el.attrs;
  for (const k in attrs) open += ` ${k}='${escapeAttr(attrs[k] as string)}'`;
  const children = el.children;
  if (children.length === 0) {
    out.push(open + "/>");
    return;
  }
  out.push(open + ">");
  for (const c of children) {
    if (typeof c === "string") out.push(escapeText(c));
    else write(c, childNs, out);
  }
  out.push(`</${tag}>`);
}

export interface StreamHeaderAttrs {
  from: string;
  id: string;
  to?: string;
  version: string;
  lang?: string;
}

/** The server's stream header (RFC 6120 §4.7), with the XML declaration. */
export function streamHeader(h: StreamHeaderAttrs): string {
  let s = `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}'`;
  s += ` from='${escapeAttr(h.from)}' id='${escapeAttr(h.id)}'`;
  if (h.to !== undefined) s += ` to='${escapeAttr(h.to)}'`;
  s += ` version='${escapeAttr(h.version)}'`;
  if (h.lang !== undefined) s += ` xml:lang='${escapeAttr(h.lang)}'`;
  return s + ">";
}

export const STREAM_CLOSE = "</stream:stream>";
