// The XML of a script's step, parsed after variable substitution. Elements
// remember whether they are strict (README rule 5): explicit
// scansion:strict, else strict when they declare their own xmlns, else as
// their parent; top-level stanzas are not strict.
import sax from "sax";
import { NS } from "../xmpp/namespaces.js";

export const SCANSION_NS = "https://prosody.im/protocol/scansion";

export interface ScriptElement {
  name: string;
  ns: string;
  attrs: Record<string, string>;
  children: ScriptElement[];
  text: string;
  strict: boolean;
}

interface Open extends ScriptElement {
  explicit: boolean | undefined;
  declaresNs: boolean;
}

export function parseScriptXml(xml: string): ScriptElement[] {
  const p = sax.parser(true, { xmlns: true });
  const roots: ScriptElement[] = [];
  const stack: Open[] = [];
  let error: Error | undefined;
  p.onerror = (e) => { error ??= e; p.resume(); };
  p.onopentag = (node) => {
    const tag = node as sax.QualifiedTag;
    if (stack.length === 0 && tag.local === "scansion-root") {
      stack.push({ name: "", ns: "", attrs: {}, children: [], text: "", strict: false, explicit: undefined, declaresNs: false });
      return;
    }
    const attrs: Record<string, string> = {};
    let explicit: boolean | undefined;
    let declaresNs = false;
    for (const k in tag.attributes) {
      const a = tag.attributes[k] as sax.QualifiedAttribute;
      if (a.name === "xmlns") { declaresNs = true; continue; }
      if (a.prefix === "xmlns") continue;
      if (a.uri === SCANSION_NS) {
        if (a.local === "strict") explicit = a.value === "true";
        continue;
      }
      attrs[a.name] = a.value;
    }
    stack.push({ name: tag.local, ns: tag.uri, attrs, children: [], text: "", strict: false, explicit, declaresNs });
  };
  p.ontext = (t) => { const top = stack[stack.length - 1]; if (top) top.text += t; };
  p.oncdata = p.ontext;
  p.onclosetag = () => {
    const done = stack.pop() as Open;
    const parent = stack[stack.length - 1];
    if (!parent) return; // the wrapper
    const element: ScriptElement = { name: done.name, ns: done.ns, attrs: done.attrs, children: done.children, text: done.text.trim(), strict: false };
    // Strictness is settled top-down once the tree is complete (below).
    (element as Open).explicit = done.explicit;
    (element as Open).declaresNs = done.declaresNs;
    if (parent.name === "") roots.push(element);
    else parent.children.push(element);
  };
  p.write(`<scansion-root xmlns='${NS.client}' xmlns:scansion='${SCANSION_NS}' xmlns:stream='${NS.stream}'>${xml}</scansion-root>`).close();
  if (error) throw new Error(`bad XML in script: ${error.message.split("\n")[0]}`);
  for (const r of roots) settleStrictness(r as Open, false, true);
  return roots;
}

function settleStrictness(e: Open, parentStrict: boolean, topLevel: boolean): void {
  if (e.explicit !== undefined) e.strict = e.explicit;
  else if (topLevel) e.strict = false;
  else if (e.declaresNs) e.strict = true;
  else e.strict = parentStrict;
  for (const c of e.children) settleStrictness(c as Open, e.strict, false);
  delete (e as Partial<Open>).explicit;
  delete (e as Partial<Open>).declaresNs;
}

/** For failure messages: the expected stanza as it reads in the script. */
export function describe(e: ScriptElement, indent = ""): string {
  const attrs = Object.entries(e.attrs).map(([k, v]) => ` ${k}="${v}"`).join("");
  const head = `${indent}<${e.name}${attrs}${e.strict ? "" : " (non-strict)"} xmlns="${e.ns}"`;
  if (e.children.length === 0 && e.text === "") return head + "/>";
  const inner = e.children.map((c) => describe(c, indent + "  ")).join("\n");
  return `${head}>${e.text}${inner ? "\n" + inner + "\n" + indent : ""}</${e.name}>`;
}
