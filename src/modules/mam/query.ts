// Reading a MAM query (XEP-0313 §4) into a typed filter and page request, and
// writing the form, results, <fin/>, metadata and preferences back. Pure: no
// store, no clock; a bad query is a StanzaError naming what is wrong.
import { el, type XmlElement } from "../../xml/element.js";
import { NS } from "../../xmpp/namespaces.js";
import { StanzaError } from "../../xmpp/errors.js";
import { parseJid, tryParseJid } from "../../jid/jid.js";
import { isMamDefaultPolicy } from "../../config.js";
import type { ArchiveFilter, ArchivePage, PageRequest } from "./archive-store.js";
import type { MamPrefs } from "./policy.js";

export const MAM = {
  ns: "urn:xmpp:mam:2",
  extended: "urn:xmpp:mam:2#extended",
  sid: "urn:xmpp:sid:0",
  forward: "urn:xmpp:forward:0",
  rsm: "http://jabber.org/protocol/rsm",
  data: "jabber:x:data",
  /** Prosody's and ejabberd's full-text search field (XEP-0313 allows extension fields, namespaced by Clark notation). */
  fulltext: "{urn:xmpp:fulltext:0}fulltext",
} as const;

export interface ParsedQuery {
  readonly queryId: string | undefined;
  readonly filter: ArchiveFilter;
  readonly page: PageRequest;
  /** XEP-0313 flip-page (urn:xmpp:mam:2#extended): send the page's results newest first. */
  readonly flip: boolean;
}

export interface QueryLimits {
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  /** Whether the full-text field is on offer (mam.fulltext). */
  readonly fulltext: boolean;
}

const bad = (text: string): StanzaError => new StanzaError({ condition: "bad-request", text });

/** XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function dateTime(field: string, value: string): number {
  const ms = DATETIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw bad(`${field}: '${value}' is not an XEP-0082 date and time such as 2026-01-31T12:00:00Z`);
  return ms;
}

/** XEP-0082 DateTime of a stamp in ms, to the second (archive stamps are whole seconds). */
export function stampString(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The submitted form's fields (XEP-0004 §3.2): var → values. */
function formFields(x: XmlElement): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const field of x.getChildren("field", MAM.data)) {
    const name = field.attrs.var;
    if (name === undefined) throw bad("a form field has no var");
    out.set(name, field.getChildren("value", MAM.data).map((v) => v.text()));
  }
  return out;
}

function single(fields: Map<string, string[]>, name: string): string | undefined {
  const values = fields.get(name);
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw bad(`${name} takes one value, got ${values.length}`);
  const v = (values[0] as string).trim();
  return v === "" ? undefined : v;
}

const KNOWN_FIELDS = new Set(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids", MAM.fulltext]);

function readFilter(query: XmlElement, limits: QueryLimits): ArchiveFilter {
  const x = query.getChild("x", MAM.data);
  if (!x) return {};
  const fields = formFields(x);
  const formType = single(fields, "FORM_TYPE");
  if (formType !== undefined && formType !== MAM.ns) throw bad(`FORM_TYPE is '${formType}', expected '${MAM.ns}'`);
  // A field this server does not support is an error, not silently ignored (as Prosody's form validation answers).
  for (const name of fields.keys()) {
    if (!KNOWN_FIELDS.has(name) || (name === MAM.fulltext && !limits.fulltext)) throw bad(`the field '${name}' is not supported`);
  }
  const withText = single(fields, "with");
  const withJid = withText === undefined ? undefined : tryParseJid(withText);
  if (withText !== undefined && !withJid) throw bad(`with: '${withText}' is not a JID`);
  const start = single(fields, "start");
  const end = single(fields, "end");
  const ids = fields.get("ids")?.map((v) => v.trim()).filter((v) => v !== "");
  if (ids !== undefined && ids.length > limits.maxPageSize) throw bad(`ids names ${ids.length} messages; at most ${limits.maxPageSize} at once`);
  return {
    with: withJid,
    start: start === undefined ? undefined : dateTime("start", start),
    end: end === undefined ? undefined : dateTime("end", end),
    ids: ids !== undefined && ids.length > 0 ? ids : undefined,
    afterId: single(fields, "after-id"),
    beforeId: single(fields, "before-id"),
    fulltext: single(fields, MAM.fulltext),
  };
}

function nonNegative(name: string, text: string): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw bad(`RSM ${name} must be a non-negative integer, got '${text}'`);
  return Number(text.trim());
}

/** XEP-0059 §2: max (capped), after, before (empty: the last page), index. */
function readPage(query: XmlElement, limits: QueryLimits): PageRequest {
  const set = query.getChild("set", MAM.rsm);
  if (!set) return { max: limits.defaultPageSize };
  const maxText = set.getChildText("max", MAM.rsm);
  const max = maxText === undefined ? limits.defaultPageSize : Math.min(nonNegative("max", maxText), limits.maxPageSize);
  const afterEl = set.getChild("after", MAM.rsm);
  const beforeEl = set.getChild("before", MAM.rsm);
  const indexText = set.getChildText("index", MAM.rsm);
  const after = afterEl?.text().trim();
  if (after === "") throw bad("RSM after needs an id");
  const before = beforeEl?.text().trim();
  if (after !== undefined && before !== undefined) throw bad("RSM after and before cannot be combined");
  const index = indexText === undefined ? undefined : nonNegative("index", indexText);
  if (index !== undefined && (after !== undefined || before !== undefined)) throw bad("RSM index cannot be combined with after or before");
  return { max, after, before, index };
}

export function parseQuery(query: XmlElement, limits: QueryLimits): ParsedQuery {
  return {
    queryId: query.attrs.queryid,
    filter: readFilter(query, limits),
    page: readPage(query, limits),
    flip: query.getChild("flip-page", MAM.ns) !== undefined,
  };
}

/** XEP-0313 §4.1 (retrieving form fields): the fields this server supports. */
export function queryForm(fulltext: boolean): XmlElement {
  const field = (v: string, type: string, label?: string) => el("field", MAM.data, { var: v, type, label });
  return el("query", MAM.ns, {},
    el("x", MAM.data, { type: "form" },
      el("field", MAM.data, { var: "FORM_TYPE", type: "hidden" }, el("value", MAM.data, {}, MAM.ns)),
      field("with", "jid-single"),
      field("start", "text-single"),
      field("end", "text-single"),
      field("before-id", "text-single"),
      field("after-id", "text-single"),
      field("ids", "list-multi"),
      fulltext ? field(MAM.fulltext, "text-single", "Messages containing all of these words") : undefined));
}

/** One result (XEP-0313 §4.2): the stored message forwarded (XEP-0297) with its archive stamp (XEP-0203). */
export function resultMessage(to: string, from: string | undefined, queryId: string | undefined, id: string, stamp: number, stored: XmlElement): XmlElement {
  return el("message", NS.client, { to, from },
    el("result", MAM.ns, { queryid: queryId, id },
      el("forwarded", MAM.forward, {},
        el("delay", NS.delay, { stamp: stampString(stamp) }),
        stored)));
}

/** The IQ result's payload: <fin/> with the XEP-0059 <set/> (first/last in archive order, count). */
export function finElement(page: ArchivePage): XmlElement {
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  return el("fin", MAM.ns, { complete: page.complete ? "true" : undefined },
    el("set", MAM.rsm, {},
      first ? el("first", MAM.rsm, { index: page.firstIndex === undefined ? undefined : String(page.firstIndex) }, first.id) : undefined,
      last ? el("last", MAM.rsm, {}, last.id) : undefined,
      el("count", MAM.rsm, {}, String(page.count))));
}

/** urn:xmpp:mam:2#extended metadata: the archive's first and last message, or nothing for an empty one. */
export function metadataElement(edges: { first: { id: string; stamp: number }; last: { id: string; stamp: number } } | undefined): XmlElement {
  if (!edges) return el("metadata", MAM.ns);
  return el("metadata", MAM.ns, {},
    el("start", MAM.ns, { id: edges.first.id, timestamp: stampString(edges.first.stamp) }),
    el("end", MAM.ns, { id: edges.last.id, timestamp: stampString(edges.last.stamp) }));
}

/** XEP-0313 archiving preferences: <prefs/>, both lists always present. */
export function prefsElement(prefs: MamPrefs): XmlElement {
  const list = (name: string, jids: readonly string[]) => el(name, MAM.ns, {}, ...jids.map((j) => el("jid", MAM.ns, {}, j)));
  return el("prefs", MAM.ns, { default: prefs.default }, list("always", prefs.always), list("never", prefs.never));
}

/** A <prefs/> set: `default` required, JIDs prepared (RFC 7622), at most `maxPerList` per list, `never` winning over `always`. */
export function parsePrefs(prefs: XmlElement, maxPerList: number): MamPrefs {
  const policy = prefs.attrs.default;
  if (policy === undefined || !isMamDefaultPolicy(policy)) throw bad(`default must be always, roster or never, got '${policy ?? ""}'`);
  const read = (name: string): string[] => {
    const out: string[] = [];
    for (const j of prefs.getChild(name, MAM.ns)?.getChildren("jid", MAM.ns) ?? []) {
      const text = j.text().trim();
      let prepared: string;
      try {
        prepared = parseJid(text).toString();
      } catch (err) {
        throw new StanzaError({ condition: "jid-malformed", text: `${name}: ${(err as Error).message}` });
      }
      if (!out.includes(prepared)) out.push(prepared);
    }
    if (out.length > maxPerList) throw new StanzaError({ condition: "policy-violation", text: `${name} lists ${out.length} JIDs; at most ${maxPerList}` });
    return out;
  };
  const never = read("never");
  const always = read("always").filter((j) => !never.includes(j));
  return { default: policy, always, never };
}
