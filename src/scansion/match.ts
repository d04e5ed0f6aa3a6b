// Matching a received stanza against a script's expectation, by the rules in
// shared/scansion/README.md: names and namespaces equal; expected attributes
// present and equal ({scansion:any} accepts any value); non-strict elements
// match each expected child to a distinct received child in any order;
// strict ones allow no extra attributes and need exactly the expected
// children in order; text compared trimmed, only when expected.
import type { XmlElement } from "../xml/element.js";
import type { ScriptElement } from "./script-xml.js";

const ANY = "{scansion:any}";
const CAPTURE = /^\{scansion:capture:([^}]+)\}$/;

/** undefined when it matches; otherwise why not, with the path to the difference. */
export function matchStanza(expected: ScriptElement, received: XmlElement, captures: Map<string, string>): string | undefined {
  const trial = new Map(captures);
  const why = match(expected, received, trial, expected.name);
  if (why === undefined) for (const [k, v] of trial) captures.set(k, v);
  return why;
}

function match(e: ScriptElement, r: XmlElement, captures: Map<string, string>, path: string): string | undefined {
  if (e.name !== r.name) return `${path}: expected element <${e.name}>, got <${r.name}>`;
  if (e.ns !== r.ns) return `${path}: expected namespace ${e.ns}, got ${r.ns}`;
  for (const [k, v] of Object.entries(e.attrs)) {
    const got = r.attrs[k];
    if (got === undefined) return `${path}: missing attribute ${k}="${v}"`;
    if (v === ANY) continue;
    const cap = CAPTURE.exec(v);
    if (cap) {
      const name = cap[1] as string;
      const before = captures.get(name);
      if (before !== undefined && before !== got) return `${path}: ${k}="${got}" differs from the captured ${name}="${before}"`;
      captures.set(name, got);
      continue;
    }
    if (got !== v) return `${path}: attribute ${k}="${got}", expected "${v}"`;
  }
  if (e.strict) {
    for (const k of Object.keys(r.attrs)) {
      if (k.startsWith("xmlns")) continue;
      if (!(k in e.attrs)) return `${path}: unexpected attribute ${k}="${r.attrs[k]}" (strict element)`;
    }
  }
  if (e.text !== "" && e.text !== ANY && r.text().trim() !== e.text) {
    return `${path}: text "${r.text().trim()}", expected "${e.text}"`;
  }
  const received = r.getChildren();
  if (e.strict) {
    if (received.length !== e.children.length) {
      return `${path}: ${received.length} child elements (${received.map((c) => c.name).join(", ") || "none"}), expected ${e.children.length} (strict element)`;
    }
    for (let i = 0; i < e.children.length; i++) {
      const ec = e.children[i] as ScriptElement;
      const why = match(ec, received[i] as XmlElement, captures, `${path}/${ec.name}`);
      if (why) return why;
    }
    return undefined;
  }
  return assign(e.children, received, 0, new Set(), captures, path);
}

/** Each expected child against a distinct received child, any order (backtracking). */
function assign(
  expected: ScriptElement[], received: XmlElement[], index: number, used: Set<number>,
  captures: Map<string, string>, path: string,
): string | undefined {
  if (index === expected.length) return undefined;
  const e = expected[index] as ScriptElement;
  let firstWhy: string | undefined;
  for (let j = 0; j < received.length; j++) {
    if (used.has(j)) continue;
    const trial = new Map(captures);
    const why = match(e, received[j] as XmlElement, trial, `${path}/${e.name}`);
    if (why !== undefined) { firstWhy ??= why; continue; }
    used.add(j);
    const rest = assign(expected, received, index + 1, used, trial, path);
    if (rest === undefined) {
      for (const [k, v] of trial) captures.set(k, v);
      return undefined;
    }
    used.delete(j);
    firstWhy ??= rest;
  }
  return firstWhy ?? `${path}: no child matches <${e.name} xmlns="${e.ns}">`;
}
