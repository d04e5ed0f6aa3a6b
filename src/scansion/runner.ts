// Runs a scansion script against a server: one ScansionClient per [Client],
// steps in order, a barrier after every sends/connects/disconnects so that
// connections cannot race, per-client queues as the README describes.
import { readFileSync } from "node:fs";
import path from "node:path";
import { escapeAttr, serialize } from "../xml/serialize.js";
import { NS } from "../xmpp/namespaces.js";
import { el, type XmlElement } from "../xml/element.js";
import { parseScript, type Script, type Step } from "./script.js";
import { parseScriptXml, describe, type ScriptElement } from "./script-xml.js";
import { matchStanza } from "./match.js";
import { ScansionClient } from "./client.js";

export { accountsOf } from "./script.js";

export interface RunOptions {
  host: string;
  port: number;
  stepTimeoutMs?: number;
}

export interface ScriptFailure {
  line: number;
  step: string;
  message: string;
  expected?: string;
  received?: string;
}

export interface ScriptResult {
  ok: boolean;
  steps: number;
  failure?: ScriptFailure;
}

class StepFailure extends Error {
  constructor(message: string, readonly expected?: string, readonly received?: string) {
    super(message);
  }
}

function stepLabel(step: Step): string {
  return step.kind === "receivesNothing" ? `${step.client} receives: nothing` : `${step.client} ${step.kind}`;
}

export async function runScript(script: Script, options: RunOptions): Promise<ScriptResult> {
  const timeout = options.stepTimeoutMs ?? 5000;
  const clients = new Map<string, ScansionClient>();
  const fullJids = new Map<string, string>();
  const captures = new Map<string, string>();
  let lastReceiver: string | undefined;
  let done = 0;

  const substitute = (xml: string): string =>
    xml.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      const full = /^(.+)'s full JID$/.exec(name);
      if (full) {
        const v = fullJids.get(full[1] as string);
        if (v === undefined) throw new StepFailure(`${whole}: that client has not connected`);
        return escapeAttr(v);
      }
      const bare = /^(.+)'s JID$/.exec(name);
      if (bare) {
        const spec = script.clients.get(bare[1] as string);
        if (!spec) throw new StepFailure(`${whole}: no such client`);
        return escapeAttr(spec.jid);
      }
      const captured = captures.get(name);
      if (captured === undefined) throw new StepFailure(`${whole}: nothing captured under that name`);
      return escapeAttr(captured);
    });

  const open = () => [...clients.values()].filter((c) => !c.closed);
  /** Two rounds of pings: the first proves every sender's input was processed, the second that its effects arrived. */
  const barrier = async () => {
    for (let round = 0; round < 2; round++) {
      await Promise.all(open().map((c) => c.ping(domainOf(script, c.name), timeout)));
    }
  };

  try {
    for (const step of script.steps) {
      // The README: leaving a client's receives discards what is still queued for it.
      if (lastReceiver !== undefined && !(step.kind === "receives" && step.client === lastReceiver)) {
        const c = clients.get(lastReceiver);
        if (c) c.queue.length = 0;
        lastReceiver = undefined;
      }
      try {
        await runStep(step);
      } catch (err) {
        const f = err instanceof StepFailure ? err : new StepFailure((err as Error).message);
        return { ok: false, steps: done, failure: { line: step.line, step: stepLabel(step), message: f.message, expected: f.expected, received: f.received } };
      }
      done++;
    }
    return { ok: true, steps: done };
  } finally {
    await Promise.all(open().map((c) => c.close(1000)));
  }

  async function runStep(step: Step): Promise<void> {
    const spec = script.clients.get(step.client);
    if (!spec) throw new StepFailure(`no client ${step.client}`);
    switch (step.kind) {
      case "connects": {
        const c = new ScansionClient(step.client, spec.jid, spec.password, spec.resource);
        clients.set(step.client, c);
        fullJids.set(step.client, await c.connect(options.host, options.port, timeout));
        await barrier();
        return;
      }
      case "disconnects": {
        await clientOf(step.client).close(timeout);
        await barrier();
        return;
      }
      case "sends": {
        const c = clientOf(step.client);
        for (const e of parseScriptXml(substitute(step.xml))) c.send(toXml(e));
        await barrier();
        return;
      }
      case "receives": {
        const c = clientOf(step.client);
        for (const expected of parseScriptXml(substitute(step.xml))) {
          let got: XmlElement;
          try {
            got = await c.nextStanza(timeout);
          } catch (err) {
            throw new StepFailure((err as Error).message, describe(expected), "nothing");
          }
          const why = matchStanza(expected, got, captures);
          if (why !== undefined) throw new StepFailure(why, describe(expected), serialize(got, NS.client));
        }
        lastReceiver = step.client;
        return;
      }
      case "receivesNothing": {
        await barrier();
        const c = clientOf(step.client);
        const extra = c.queue[0];
        if (extra) throw new StepFailure("expected nothing", "nothing", serialize(extra, NS.client));
        return;
      }
    }
  }

  function clientOf(name: string): ScansionClient {
    const c = clients.get(name);
    if (!c) throw new StepFailure(`${name} has not connected`);
    return c;
  }
}

function domainOf(script: Script, client: string): string {
  const jid = script.clients.get(client)?.jid ?? "";
  return jid.slice(jid.indexOf("@") + 1);
}

/** A script element as the wire element it stands for (scansion-only attributes already dropped). */
function toXml(e: ScriptElement): XmlElement {
  return el(e.name, e.ns, e.attrs, ...(e.text !== "" ? [e.text] : []), ...e.children.map(toXml));
}

export function formatFailure(file: string, result: ScriptResult): string {
  const f = result.failure;
  if (!f) return `${file}: passed`;
  let s = `${file}:${f.line}: step "${f.step}" failed: ${f.message}`;
  if (f.expected !== undefined) s += `\n  expected:\n    ${f.expected.replace(/\n/g, "\n    ")}`;
  if (f.received !== undefined) s += `\n  received:\n    ${f.received}`;
  return s;
}

/** The CLI: run files against a running server, PASS/FAIL per file, then the summary line. */
export async function runFiles(files: string[], options: RunOptions, log: (line: string) => void = console.log): Promise<{ passed: number; failed: number }> {
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    let result: ScriptResult;
    try {
      result = await runScript(parseScript(readFileSync(file, "utf8"), path.basename(file)), options);
    } catch (err) {
      result = { ok: false, steps: 0, failure: { line: 0, step: "parse", message: (err as Error).message } };
    }
    if (result.ok) {
      passed++;
      log(`PASS ${file}`);
    } else {
      failed++;
      log(`FAIL ${formatFailure(file, result)}`);
    }
  }
  log(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}



