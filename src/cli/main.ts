// `parley` command line: start the server, manage accounts, run scansion
// scripts. Each command validates its arguments and says what is wrong.
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { secureDataDir } from "../util/file-modes.js";
import { defaultConfig, databasePath, type ServerConfig } from "../config.js";
import { resolveConfig, adminJid } from "../config-file.js";
import { checkConfiguration } from "./check.js";
import type { LogLevel } from "../util/logger.js";
import { ParleyServer } from "../server/server.js";
import { parseJid, JidError } from "../jid/jid.js";
import { EventStore } from "../events/store.js";
import { registerStandardProjections } from "../projections/index.js";
import { registerAccount, changePassword, deleteAccount, registerAccounts } from "../accounts/account-service.js";
import { readPassword, readLines } from "./password.js";
import { DEFAULT_ITERATIONS } from "../sasl/credentials.js";
import { openExisting, listEvents, replayAccount, diffAccount, explain, printReports, exportEvents, importEvents } from "./debug.js";
import { parseLogPoint, type LogPoint } from "../replay/replay.js";
import { verifyProjections, rebuildAndReport } from "../replay/verify.js";

const USAGE = `Usage: parley <command> [options]

Commands:
  start                     run the server in the foreground
      --config FILE         a TOML configuration file (or PARLEY_CONFIG); PARLEY_* variables
                            and these flags override it
      --domain D            a domain to serve (repeatable; default localhost)
      --c2s-port N          client port, STARTTLS (default 5222)
      --direct-tls-port N   Direct TLS client port, XEP-0368 (default 5223)
      --http-port N         XMPP over WebSocket at /xmpp-websocket, RFC 7395 (default 5280)
      --cert FILE --key FILE  PEM certificate and key (default: self-signed, made in DIR/tls)
      --require-encryption  refuse authentication before TLS, loopback included
      --allow-registration  let anyone create an account in-band (XEP-0077)
      --admin JID           a server administrator (repeatable; adds to the file's admins)
      --bind ADDR           address to listen on (default 127.0.0.1)
      --data DIR            data directory (default ./data)
      --log-level L         debug | info | warn | error (default info)
  check [--config FILE]     check the configuration, certificate, data directory and ports
  check features [--config FILE] [--format text|markdown|doap]
                            which XEP-0479 compliance categories each domain meets, and what is missing
  adduser JID [--data DIR]  create an account; the password is read from stdin or a prompt
  adduser --batch           create accounts from 'jid password' lines on stdin, in one transaction
    [--iterations N]        PBKDF2 iterations for the new credentials (default 4096)
  passwd JID [--data DIR]   change an account's password (stdin or prompt)
  deluser JID [--data DIR]  delete an account
  scansion FILE... [--host H] [--port N]
                            run scansion scripts against a running server

Debugging (work on a running server's data directory; only rebuild and import write):
  events [--account JID] [--type T]... [--since SEQ|TIME] [--until SEQ|TIME] [--json] [--follow] [--show-secrets]
                            one line per event (or JSON lines); --follow waits for new ones
  replay --account JID [--until SEQ|TIME]
                            the account's roster, pending requests and block list at that point
  replay --account JID --diff A B
                            what changed between two points, and the events that changed it
  replay --account JID --explain CONTACT
                            the chain of events behind the subscription with CONTACT
  verify                    compare every projection with a replay of the log (writes nothing)
  rebuild                   rebuild every projection from the log; report any divergence
  export                    the event log as JSON lines on stdout
  import FILE|-             load exported JSON lines into an empty data directory
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const CLI_ACTOR = { kind: "admin", tool: "cli" } as const;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "start":
        return await start(rest);
      case "check":
        return await check(rest);
      case "adduser":
        return await adduser(rest);
      case "passwd":
        return await passwd(rest);
      case "deluser":
        return deluser(rest);
      case "scansion":
        return await scansion(rest);
      case "events":
        return await events(rest);
      case "replay":
        return replay(rest);
      case "verify":
      case "rebuild":
        return projections(command, rest);
      case "export":
        return exportCommand(rest);
      case "import":
        return await importCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`parley: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof Error) {
      process.stderr.write(`parley ${command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

type OptionValue = string | boolean | (string | boolean)[] | undefined;

function parse(args: string[], options: NonNullable<ParseArgsConfig["options"]>): { values: Record<string, OptionValue>; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as { values: Record<string, OptionValue>; positionals: string[] };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function portNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number, got '${value}'`);
  return n;
}

const LOG_LEVELS: LogLevel[] = ["debug", "info", "warn", "error", "silent"];

function configFile(values: Record<string, OptionValue>): string | undefined {
  if (typeof values.config === "string") return values.config;
  const fromEnv = process.env.PARLEY_CONFIG;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : undefined;
}

async function check(args: string[]): Promise<number> {
  if (args[0] === "features") return await checkFeaturesCommand(args.slice(1));
  const { values, positionals } = parse(args, { config: { type: "string" } });
  if (positionals.length > 0) throw new UsageError("check takes no arguments but 'features'");
  const result = await checkConfiguration(resolveConfig(configFile(values)));
  for (const line of result.ok) out(`OK       ${line}`);
  for (const line of result.problems) out(`PROBLEM  ${line}`);
  out(result.problems.length === 0 ? "All checks passed." : `${result.problems.length} problem(s) found.`);
  return result.problems.length === 0 ? 0 : 1;
}

async function checkFeaturesCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { config: { type: "string" }, format: { type: "string" } });
  if (positionals.length > 0) throw new UsageError("check features takes no arguments");
  const { checkFeatures, FEATURES_FORMATS } = await import("./check-features.js");
  const format = FEATURES_FORMATS.find((f) => f === (values.format ?? "text"));
  if (format === undefined) throw new UsageError(`--format must be one of ${FEATURES_FORMATS.join(", ")}`);
  const file = configFile(values);
  process.stdout.write(checkFeatures(resolveConfig(file), file ?? "the default configuration", format));
  return 0;
}

async function start(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    config: { type: "string" },
    domain: { type: "string", multiple: true },
    "c2s-port": { type: "string" },
    "direct-tls-port": { type: "string" },
    "http-port": { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    "require-encryption": { type: "boolean" },
    "allow-registration": { type: "boolean" },
    admin: { type: "string", multiple: true },
    bind: { type: "string" },
    data: { type: "string" },
    "log-level": { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`start takes no arguments, got '${positionals.join(" ")}'`);
  const config: ServerConfig = resolveConfig(configFile(values));
  if (Array.isArray(values.domain)) config.domains = values.domain.map((d: string | boolean) => String(d).toLowerCase());
  if (typeof values["c2s-port"] === "string") config.c2s.port = portNumber(values["c2s-port"], "--c2s-port");
  if (typeof values["direct-tls-port"] === "string") config.c2s.directTlsPort = portNumber(values["direct-tls-port"], "--direct-tls-port");
  if (typeof values["http-port"] === "string") config.http.port = portNumber(values["http-port"], "--http-port");
  if (typeof values.cert === "string") config.tls.certFile = path.resolve(values.cert);
  if (typeof values.key === "string") config.tls.keyFile = path.resolve(values.key);
  if (values["require-encryption"] === true) config.tls.requireEncryption = true;
  if (values["allow-registration"] === true) config.registration.allowed = true;
  if (Array.isArray(values.admin)) config.admins = [...config.admins, ...values.admin.map((a: string | boolean) => adminJid(String(a), "--admin"))];
  if (typeof values.bind === "string") config.c2s.host = values.bind;
  if (typeof values.data === "string") config.dataDir = path.resolve(values.data);
  const level = values["log-level"];
  if (typeof level === "string") {
    if (!LOG_LEVELS.includes(level as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
    config.logLevel = level as LogLevel;
  }
  const server = await ParleyServer.start(config);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.stop();
  return 0;
}

function openStore(dataDir: string | undefined): EventStore {
  const config = defaultConfig();
  if (dataDir !== undefined) config.dataDir = path.resolve(dataDir);
  secureDataDir(config.dataDir);
  const store = EventStore.open(databasePath(config));
  secureDataDir(config.dataDir);
  registerStandardProjections(store);
  return store;
}

function bareJidArg(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one JID, e.g. 'parley ${command} romeo@localhost'`);
  const raw = positionals[0] as string;
  let jid;
  try {
    jid = parseJid(raw);
  } catch (err) {
    if (err instanceof JidError) throw new UsageError(`'${raw}' is not a valid JID: ${err.reason}`);
    throw err;
  }
  if (jid.local === "" || jid.resource !== "") throw new UsageError(`'${raw}' must be a bare JID of the form user@domain`);
  return jid.bareString();
}

/** PBKDF2 iterations for new credentials: RFC 7677 §4 asks for at least 4096. */
function iterationsArg(raw: unknown): number {
  if (raw === undefined) return DEFAULT_ITERATIONS;
  const n = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 4096) {
    throw new UsageError(`--iterations must be a whole number of at least 4096, not '${String(raw)}'`);
  }
  return n;
}

async function adduser(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string" }, batch: { type: "boolean" }, iterations: { type: "string" } });
  const data = typeof values.data === "string" ? values.data : undefined;
  const iterations = iterationsArg(values.iterations);
  if (values.batch === true) {
    if (positionals.length > 0) throw new UsageError("adduser --batch reads 'jid password' lines from stdin and takes no JID argument");
    const entries = (await readLines()).map((line, i) => {
      const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
      if (!m) throw new UsageError(`line ${i + 1}: expected 'jid password'`);
      return { jid: bareJidArg([m[1] as string], "adduser"), password: m[2] as string };
    });
    const store = openStore(data);
    try {
      await registerAccounts(store, entries, CLI_ACTOR, iterations);
    } finally {
      store.close();
    }
    process.stderr.write(`added ${entries.length} accounts\n`);
    return 0;
  }
  const jid = bareJidArg(positionals, "adduser");
  const password = await readPassword();
  const store = openStore(data);
  try {
    registerAccount(store, jid, password, CLI_ACTOR, iterations);
  } finally {
    store.close();
  }
  process.stderr.write(`added ${jid}\n`);
  return 0;
}

async function passwd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string" } });
  const jid = bareJidArg(positionals, "passwd");
  const password = await readPassword();
  const store = openStore(typeof values.data === "string" ? values.data : undefined);
  try {
    changePassword(store, jid, password, CLI_ACTOR);
  } finally {
    store.close();
  }
  process.stderr.write(`changed the password of ${jid}\n`);
  return 0;
}

function deluser(args: string[]): number {
  const { values, positionals } = parse(args, { data: { type: "string" } });
  const jid = bareJidArg(positionals, "deluser");
  const store = openStore(typeof values.data === "string" ? values.data : undefined);
  try {
    deleteAccount(store, jid, CLI_ACTOR);
  } finally {
    store.close();
  }
  process.stderr.write(`deleted ${jid}\n`);
  return 0;
}

async function scansion(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { host: { type: "string" }, port: { type: "string" } });
  if (positionals.length === 0) throw new UsageError("scansion needs at least one .scs file");
  const host = typeof values.host === "string" ? values.host : "127.0.0.1";
  const port = typeof values.port === "string" ? portNumber(values.port, "--port") : 5222;
  // Loaded on demand: the server and account commands do not need the runner.
  const { runFiles } = await import("../scansion/runner.js");
  const { failed } = await runFiles(positionals, { host, port });
  return failed === 0 ? 0 : 1;
}

const out = (line: string) => process.stdout.write(line + "\n");

function dataOption(values: Record<string, OptionValue>): string | undefined {
  return typeof values.data === "string" ? values.data : undefined;
}

function point(value: OptionValue, flag: string): LogPoint | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new UsageError(`${flag} needs a value`);
  try {
    return parseLogPoint(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}

async function events(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: "string" }, account: { type: "string" }, type: { type: "string", multiple: true },
    since: { type: "string" }, until: { type: "string" }, json: { type: "boolean" }, follow: { type: "boolean" },
    "show-secrets": { type: "boolean" },
  });
  if (positionals.length > 0) throw new UsageError(`events takes no arguments, got '${positionals.join(" ")}'`);
  const store = openExisting(dataOption(values), true);
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await listEvents(store, {
      account: typeof values.account === "string" ? bareJidArg([values.account], "events --account") : undefined,
      types: Array.isArray(values.type) ? values.type.map(String) : undefined,
      since: point(values.since, "--since"),
      until: point(values.until, "--until"),
    }, values.json === true, out, values.follow === true ? { signal: controller.signal, intervalMs: 250 } : undefined, values["show-secrets"] === true);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    store.close();
  }
  return 0;
}

function replay(args: string[]): number {
  const { values, positionals } = parse(args, {
    data: { type: "string" }, account: { type: "string" }, until: { type: "string" },
    diff: { type: "boolean" }, explain: { type: "string" },
  });
  if (typeof values.account !== "string") throw new UsageError("replay needs --account JID");
  const account = bareJidArg([values.account], "replay --account");
  const store = openExisting(dataOption(values), true);
  try {
    if (values.diff === true) {
      if (positionals.length !== 2) throw new UsageError("replay --diff needs two points: A B (sequence numbers or times)");
      diffAccount(store, account, point(positionals[0], "--diff A") as LogPoint, point(positionals[1], "--diff B") as LogPoint, out);
    } else if (typeof values.explain === "string") {
      explain(store, account, bareJidArg([values.explain], "replay --explain"), out);
    } else {
      if (positionals.length > 0) throw new UsageError(`unexpected '${positionals.join(" ")}'`);
      replayAccount(store, account, point(values.until, "--until"), out);
    }
  } finally {
    store.close();
  }
  return 0;
}

function projections(command: "verify" | "rebuild", args: string[]): number {
  const { values, positionals } = parse(args, { data: { type: "string" } });
  if (positionals.length > 0) throw new UsageError(`${command} takes no arguments`);
  const store = openExisting(dataOption(values), command === "verify");
  try {
    const reports = command === "verify" ? verifyProjections(store) : rebuildAndReport(store);
    const ok = printReports(reports, out);
    if (command === "rebuild") out(ok ? "rebuilt; the projections already matched the log" : "rebuilt; the projections marked DIFF had diverged from the log and now match it");
    return ok || command === "rebuild" ? 0 : 1;
  } finally {
    store.close();
  }
}

function exportCommand(args: string[]): number {
  const { values, positionals } = parse(args, { data: { type: "string" } });
  if (positionals.length > 0) throw new UsageError("export takes no arguments; it writes to stdout");
  const store = openExisting(dataOption(values), true);
  // Lines gathered into 64 KiB writes: one write per event is a system call per line.
  const pending: string[] = [];
  let size = 0;
  const flush = () => {
    if (pending.length === 0) return;
    process.stdout.write(pending.join(""));
    pending.length = 0;
    size = 0;
  };
  try {
    const n = exportEvents(store, (line) => {
      pending.push(line + "\n");
      size += line.length + 1;
      if (size >= 65536) flush();
    });
    flush();
    process.stderr.write(`exported ${n} events\n`);
  } finally {
    store.close();
  }
  return 0;
}

async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("import takes one file (or - for stdin)");
  const n = await importEvents(dataOption(values), positionals[0] as string);
  process.stderr.write(`imported ${n} events and rebuilt the projections\n`);
  return 0;
}
