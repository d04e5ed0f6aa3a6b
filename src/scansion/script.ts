// Parsing scansion scripts (Prosody's XMPP conversation format): a header of
// `[Client] Name` blocks, a line of dashes, then steps. XML blocks are kept as
// text: variables are substituted when the step runs.
export interface ClientSpec {
  name: string;
  jid: string;
  password: string;
  resource?: string;
}

export type Step =
  | { kind: "connects"; client: string; line: number }
  | { kind: "disconnects"; client: string; line: number }
  | { kind: "sends"; client: string; line: number; xml: string }
  | { kind: "receives"; client: string; line: number; xml: string }
  | { kind: "receivesNothing"; client: string; line: number };

export interface Script {
  name: string;
  title?: string;
  clients: Map<string, ClientSpec>;
  steps: Step[];
}

export class ScriptError extends Error {
  constructor(readonly script: string, readonly line: number, message: string) {
    super(`${script}:${line}: ${message}`);
    this.name = "ScriptError";
  }
}

const isComment = (line: string) => /^\s*(#|\/\/|--)/.test(line);
const isIndented = (line: string) => /^[ \t]/.test(line);

export function parseScript(text: string, name = "script"): Script {
  const lines = text.split(/\r?\n/);
  const clients = new Map<string, ClientSpec>();
  let title: string | undefined;
  let i = 0;
  // Header.
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^-{3,}\s*$/.test(line)) { i++; break; }
    if (title === undefined && /^#/.test(line)) title = line.replace(/^#\s*/, "");
    const m = /^\[Client\]\s*(.+?)\s*$/.exec(line);
    if (!m) continue;
    const spec: Partial<ClientSpec> & { name: string } = { name: m[1] as string };
    for (i++; i < lines.length && (isIndented(lines[i] as string) || (lines[i] as string).trim() === ""); i++) {
      const kv = /^\s+(\w+):\s*(.*?)\s*$/.exec(lines[i] as string);
      if (!kv) continue;
      const [, key, value] = kv as unknown as [string, string, string];
      if (key === "jid") spec.jid = value;
      else if (key === "password") spec.password = value;
      else if (key === "resource") spec.resource = value;
    }
    i--;
    if (!spec.jid || spec.password === undefined) throw new ScriptError(name, i + 1, `client '${spec.name}' needs jid and password`);
    const slash = spec.jid.indexOf("/");
    if (slash >= 0) {
      spec.resource ??= spec.jid.slice(slash + 1);
      spec.jid = spec.jid.slice(0, slash);
    }
    clients.set(spec.name, spec as ClientSpec);
  }
  // Longest names first, so "Juliet's phone" is not read as "Juliet".
  const names = [...clients.keys()].sort((a, b) => b.length - a.length);
  const steps: Step[] = [];
  while (i < lines.length) {
    const line = lines[i] as string;
    const lineNo = i + 1;
    i++;
    if (line.trim() === "" || isComment(line) || /^-{3,}\s*$/.test(line)) continue;
    if (isIndented(line)) throw new ScriptError(name, lineNo, "indented text outside a sends/receives block");
    const client = names.find((n) => line.startsWith(n + " "));
    if (!client) throw new ScriptError(name, lineNo, `no client named at the start of '${line.trim()}'`);
    const action = line.slice(client.length + 1).trim();
    if (action === "connects") { steps.push({ kind: "connects", client, line: lineNo }); continue; }
    if (action === "disconnects") { steps.push({ kind: "disconnects", client, line: lineNo }); continue; }
    const m = /^(sends|receives):?\s*(.*)$/.exec(action);
    if (!m) throw new ScriptError(name, lineNo, `unknown step '${action}'`);
    if (m[1] === "receives" && (m[2] ?? "").trim() === "nothing") {
      steps.push({ kind: "receivesNothing", client, line: lineNo });
      continue;
    }
    const block: string[] = [];
    while (i < lines.length && (isIndented(lines[i] as string) || (lines[i] as string).trim() === "")) {
      block.push(lines[i] as string);
      i++;
    }
    const xml = block.join("\n").trim();
    if (xml === "") throw new ScriptError(name, lineNo, `${m[1]} step without XML`);
    steps.push({ kind: m[1] === "sends" ? "sends" : "receives", client, line: lineNo, xml });
  }
  return { name, title, clients, steps };
}

/** The accounts a script logs in with, once each: create them before running it. */
export function accountsOf(script: Script): { jid: string; password: string }[] {
  const seen = new Map<string, string>();
  for (const c of script.clients.values()) if (!seen.has(c.jid)) seen.set(c.jid, c.password);
  return [...seen].map(([jid, password]) => ({ jid, password }));
}
