// The verdict of XEP-0479 (xep-0479.ts) on a configuration's capabilities
// (capabilities.ts), per served domain, and its three renderings: the text of
// `parley check features`, docs/compliance.md, and parley.doap (what Parley
// implements, from specs.ts, whatever the configuration).
import { escapeAttr, escapeText } from "../xml/serialize.js";
import { PARLEY_VERSION } from "../version.js";
import type { Capabilities, DomainCapabilities } from "./capabilities.js";
import { SPECS, evaluateSpec, type Spec } from "./specs.js";
import { CATEGORIES, LEVELS, REQUIREMENTS, SUITE, needAt, type Category, type Level, type Requirement } from "./xep-0479.js";

export interface SpecVerdict {
  readonly spec: Spec;
  readonly provided: boolean;
  readonly evidence: readonly string[];
}

export interface LevelVerdict {
  readonly category: Category;
  readonly level: Level;
  /** Every required feature of the category at this level, and (but for Core) Core at this level. */
  readonly met: boolean;
  /** The category's own required features that are not provided, with the specs they lack. */
  readonly missing: readonly { readonly requirement: Requirement; readonly specs: readonly string[] }[];
  /** Not met because Core at this level is not. */
  readonly needsCore: boolean;
}

export interface DomainReport {
  readonly domain: string;
  readonly levels: readonly LevelVerdict[];
  readonly specs: readonly SpecVerdict[];
}

export function domainReport(caps: Capabilities, domain: DomainCapabilities): DomainReport {
  const specs = SPECS.map((spec): SpecVerdict => ({ spec, ...evaluateSpec(spec, caps, domain) }));
  const provided = (id: string) => {
    const verdict = specs.find((s) => s.spec.id === id);
    if (!verdict) throw new Error(`${SUITE.xep} names '${id}', which src/compliance/specs.ts does not list`);
    return verdict.provided;
  };
  const own = (category: Category, level: Level) => REQUIREMENTS
    .filter((r) => r.category === category && needAt(r, level) === "required")
    .map((requirement) => ({ requirement, specs: requirement.providers.filter((p) => !provided(p)) }))
    .filter((m) => m.specs.length > 0);
  const levels: LevelVerdict[] = [];
  for (const level of LEVELS) {
    const coreMet = own("Core", level).length === 0;
    for (const category of CATEGORIES) {
      const missing = own(category, level);
      const needsCore = category !== "Core" && !coreMet;
      levels.push({ category, level, missing, needsCore, met: missing.length === 0 && !needsCore });
    }
  }
  levels.sort((a, b) => CATEGORIES.indexOf(a.category) - CATEGORIES.indexOf(b.category) || LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level));
  return { domain: domain.domain, levels, specs };
}

export function complianceReport(caps: Capabilities): DomainReport[] {
  return caps.domains.map((d) => domainReport(caps, d));
}

/** The specs XEP-0479 asks of a server at some level, with the levels that ask. */
function requiredSpecs(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of REQUIREMENTS) {
    for (const level of LEVELS) {
      if (needAt(r, level) !== "required") continue;
      for (const p of r.providers) {
        const labels = out.get(p) ?? [];
        const label = `${r.category} ${level}`;
        if (!labels.includes(label)) labels.push(label);
        out.set(p, labels);
      }
    }
  }
  return out;
}

const isServerSide = (s: SpecVerdict) => !s.spec.provider.every((c) => "clientsOnly" in c);

/** `parley check features`. */
export function formatText(reports: readonly DomainReport[], caps: Capabilities, source: string): string {
  const lines: string[] = [];
  lines.push(`${SUITE.xep}: ${SUITE.title} (${SUITE.version}), server side, for ${source}`);
  lines.push(`modules: ${caps.modules.join(", ")}`);
  const componentNote = caps.listeners.component === undefined ? "; no component listener (XEP-0114: configure a [[components.component]])" : "";
  lines.push(`listeners: ${Object.entries(caps.listeners).map(([name, at]) => `${name} ${at}`).join(", ")}${componentNote}`);
  const needed = requiredSpecs();
  for (const r of reports) {
    lines.push("", r.domain);
    for (const v of r.levels) {
      const head = `  ${v.category.padEnd(12)} ${v.level.padEnd(16)} `;
      if (v.met) { lines.push(`${head}met`); continue; }
      const lacks = v.missing.flatMap((m) => m.specs);
      const why = [...(lacks.length > 0 ? [`missing ${lacks.join(", ")}`] : []), ...(v.needsCore ? [`needs Core ${v.level}`] : [])];
      lines.push(`${head}NOT MET: ${why.join("; ")}`);
    }
    const provided = r.specs.filter((s) => s.provided && isServerSide(s));
    lines.push(`  provided (${provided.length}):`);
    for (const s of provided) lines.push(`    ${s.spec.id.padEnd(15)} ${s.spec.title}: ${s.evidence.join("; ")}`);
    const off = r.specs.filter((s) => !s.provided && s.spec.implemented);
    if (off.length > 0) {
      lines.push(`  implemented, but off in this configuration (${off.length}):`);
      for (const s of off) lines.push(`    ${s.spec.id.padEnd(15)} ${s.spec.title}: ${s.evidence.join("; ")}`);
    }
    const missing = r.specs.filter((s) => !s.provided && needed.has(s.spec.id));
    lines.push(`  missing for ${SUITE.xep} (${missing.length}):`);
    for (const s of missing) {
      lines.push(`    ${s.spec.id.padEnd(15)} ${s.spec.title}: ${s.evidence.join("; ")} (needed for ${(needed.get(s.spec.id) ?? []).join(", ")})`);
    }
  }
  const met = reports.flatMap((r) => r.levels.filter((v) => v.met).map((v) => `${r.domain} ${v.category} ${v.level}`));
  lines.push("", met.length === 0 ? `No ${SUITE.xep} category is met.` : `Met: ${met.join(", ")}.`);
  return lines.join("\n") + "\n";
}

const mark = (need: string) => (need === "required" ? "✓" : need === "no" ? "✕" : "N/A");

/** docs/compliance.md: the same verdict, generated from the default configuration. */
export function formatMarkdown(reports: readonly DomainReport[], caps: Capabilities): string {
  const out: string[] = [];
  out.push("# Compliance: XEP-0479 and what Parley implements", "");
  out.push("<!-- Generated by `npm run compliance` (parley check features --format markdown) from the default",
    "     configuration; test/integration/compliance.test.ts fails when it differs. Do not edit by hand. -->", "");
  out.push(`How Parley's default configuration measures against [${SUITE.xep}: ${SUITE.title}](https://xmpp.org/extensions/xep-0479.html)`,
    `(version ${SUITE.version}), server side. \`parley check features [--config FILE]\` prints the same for a`,
    "configuration: it loads the modules `modules_enabled` names, asks them what they would advertise (disco#info of",
    "each domain and of an account, stream features), and reads the listeners from the configuration; the",
    "requirements are `src/compliance/xep-0479.ts`, what shows each specification is `src/compliance/specs.ts`.",
    "A category counts at a level when all its required features are provided and Core at that level is met (XEP-0479 §2).",
    "A feature issue moves this page: once its module advertises what the spec's condition in `specs.ts` looks for, mark",
    "the spec `implemented` (with the XEP's version) and run `npm run compliance`; the compliance test fails until both are done.", "");
  out.push(`Modules: ${caps.modules.map((m) => `\`${m}\``).join(", ")}. Listeners: ${Object.entries(caps.listeners).map(([n, at]) => `${n} (${at})`).join(", ")}; no component protocol.`, "");
  for (const r of reports) {
    out.push(`## ${r.domain}`, "");
    out.push("| category | Server | Advanced Server |", "|---|---|---|");
    for (const category of CATEGORIES) {
      const cell = (level: Level) => {
        const v = r.levels.find((l) => l.category === category && l.level === level);
        if (!v) throw new Error(`no verdict for ${category} ${level}`);
        if (v.met) return "met";
        const lacks = v.missing.flatMap((m) => m.specs);
        return `**not met**: ${[...(lacks.length > 0 ? [`missing ${lacks.join(", ")}`] : []), ...(v.needsCore ? [`needs Core ${level}`] : [])].join("; ")}`;
      };
      out.push(`| ${category} | ${cell("Server")} | ${cell("Advanced Server")} |`);
    }
    out.push("", "### The requirements, feature by feature", "");
    out.push("| category | feature | Server | Advanced Server | providers | in Parley |", "|---|---|---|---|---|---|");
    for (const req of REQUIREMENTS) {
      const state = req.providers.map((p) => {
        const s = r.specs.find((v) => v.spec.id === p);
        if (!s) throw new Error(`no verdict for ${p}`);
        return `${p}: ${s.provided ? "yes" : "**no**"} (${s.evidence.join("; ")})`;
      }).join("<br>");
      out.push(`| ${req.category} | ${req.feature}${req.note ? ` (${req.note})` : ""} | ${mark(req.server)} | ${mark(req.advanced)} | ${req.providers.join(", ")} | ${state} |`);
    }
    out.push("");
  }
  out.push("## What Parley implements", "");
  out.push("The same list is `parley.doap` at the repository root (DOAP, RDF/XML, with the xmpp-doap vocabulary). Versions",
    "are the XSF's latest revision of each XEP.", "");
  const first = reports[0];
  out.push(`| specification | title | version | status | notes | on in the default configuration${first ? ` (${first.domain})` : ""} |`, "|---|---|---|---|---|---|");
  for (const s of SPECS) {
    if (!s.implemented) continue;
    const verdict = first?.specs.find((v) => v.spec.id === s.id);
    const on = verdict === undefined ? "" : verdict.provided ? "yes" : `no: ${verdict.evidence.join("; ")}`;
    out.push(`| [${s.id}](${s.url}) | ${s.title} | ${s.implemented.version ?? ""} | ${s.implemented.status} | ${s.implemented.note} | ${on} |`);
  }
  out.push("");
  return out.join("\n");
}

/** parley.doap: DOAP (RDF/XML) with xmpp:SupportedXep entries, as Prosody and ejabberd ship. */
export function formatDoap(): string {
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<!-- Generated by \`npm run compliance\` from src/compliance/specs.ts; test/integration/compliance.test.ts keeps them equal. -->`);
  out.push(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://usefulinc.com/ns/doap#" xmlns:xmpp="https://linkmauve.fr/ns/xmpp-doap#">`);
  out.push(`  <Project>`);
  out.push(`    <name>Parley</name>`);
  out.push(`    <shortdesc>An event-sourced, actor-based XMPP server</shortdesc>`);
  out.push(`    <description>An XMPP server (RFC 6120/6121) in TypeScript on Node.js: every change to an account is an event in SQLite, with one actor per client session and per user account.</description>`);
  out.push(`    <programming-language>TypeScript</programming-language>`);
  out.push(`    <license rdf:resource="https://spdx.org/licenses/MIT.html"/>`);
  out.push(`    <category rdf:resource="https://linkmauve.fr/ns/xmpp-doap#category-server"/>`);
  out.push(`    <release><Version><revision>${escapeText(PARLEY_VERSION)}</revision></Version></release>`);
  for (const s of SPECS) {
    if (!s.implemented || !s.id.startsWith("RFC ")) continue;
    out.push(`    <implements rdf:resource="${escapeAttr(s.url)}"/>`);
  }
  for (const s of SPECS) {
    if (!s.implemented || !s.id.startsWith("XEP-")) continue;
    out.push(`    <implements>`, `      <xmpp:SupportedXep>`);
    out.push(`        <xmpp:xep rdf:resource="${escapeAttr(s.url)}"/>`);
    if (s.implemented.version !== undefined) out.push(`        <xmpp:version>${escapeText(s.implemented.version)}</xmpp:version>`);
    out.push(`        <xmpp:status>${s.implemented.status}</xmpp:status>`);
    if (s.implemented.note !== "") out.push(`        <xmpp:note>${escapeText(s.implemented.note)}</xmpp:note>`);
    out.push(`      </xmpp:SupportedXep>`, `    </implements>`);
  }
  out.push(`  </Project>`, `</rdf:RDF>`, "");
  return out.join("\n");
}
