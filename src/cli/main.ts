// `parley` command line: start the server, manage accounts, run scansion
// scripts. Each command validates its arguments and says what is wrong.
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { secureDataDir } from "../util/file-modes.js";
import { databasePath, passwordTooShort, type ServerConfig } from "../config.js";
import { askServer, adminSocketPath } from "../ops/admin-socket.js";
import { statusLines, type ServerStatus } from "../ops/status.js";
import { backup, restore } from "../ops/backup.js";
import { resolveConfig, adminJid } from "../config-file.js";
import { checkConfiguration } from "./check.js";
import type { LogLevel } from "../util/logger.js";
import { ParleyServer } from "../server/server.js";
import { parseJid, JidError } from "../jid/jid.js";
import { EventStore } from "../events/store.js";
import { registerStandardProjections } from "../projections/index.js";
import { registerAccount, changePassword, deleteAccount, registerAccounts, listAccounts } from "../accounts/account-service.js";
import { readPassword, readLines } from "./password.js";
import { DEFAULT_ITERATIONS } from "../sasl/credentials.js";
import { explainRoom, replayRoom } from "../replay/room.js";
import { openExisting, dataFile, listEvents, replayAccount, diffAccount, explain, printReports, exportEvents, importEvents } from "./debug.js";
import { runInspector } from "../inspect/cli.js";
import { parseLogPoint, type LogPoint } from "../replay/replay.js";
import { verifyProjections, rebuildAndReport } from "../replay/verify.js";

/** Each command's own help: `parley COMMAND --help` (and `parley help COMMAND`). */
export const COMMAND_HELP: Record<string, string> = {
  start: `Usage: parley start [options]
Runs the server in the foreground, logging JSON lines to stderr (read them with
'parley start 2>&1 | npx pino-pretty'). SIGINT and SIGTERM close every stream with
system-shutdown, flush the commits and exit 0; SIGHUP reloads the configuration.
  --config FILE         a TOML configuration file (or PARLEY_CONFIG); PARLEY_* variables
                        and these flags override it
  --domain D            a domain to serve (repeatable; default localhost)
  --c2s-port N          client port, STARTTLS (default 5222)
  --direct-tls-port N   Direct TLS client port, XEP-0368 (default 5223)
  --http-port N         XMPP over WebSocket at /xmpp-websocket, RFC 7395, and /metrics (default 5280)
  --s2s-port N          server-to-server port, federation (default 5269; [s2s] in the file)
  --cert FILE --key FILE  PEM certificate and key (default: self-signed, made in DIR/tls)
  --require-encryption  refuse authentication before TLS, loopback included
  --allow-registration  let anyone create an account in-band (XEP-0077)
  --admin JID           a server administrator (repeatable; adds to the file's admins)
  --bind ADDR           an address to listen on (repeatable; default 127.0.0.1 and ::1)
  --data DIR            data directory (default ./data)
  --log-level L         debug | info | warn | error | silent (default info)
`,
  check: `Usage: parley check [--config FILE]
Checks the configuration, the certificate (or the self-signed one start would use or
replace), the data directory and its modes, and the ports; a server already running on
the data directory is asked over its admin socket, and its own ports are not problems.
Exit 1 when there is a problem.
       parley check features [--config FILE] [--format text|markdown|doap]
Which XEP-0479 compliance categories each domain meets, and what is missing.
`,
  adduser: `Usage: parley adduser JID [--config FILE] [--data DIR] [--iterations N]
       parley adduser --batch [--config FILE] [--data DIR] [--iterations N]
Creates an account; the password is read from stdin when piped, else asked for at a
hidden prompt (never an argument). --batch reads 'jid password' lines from stdin and
adds them all in one transaction (a bad line adds none). The domain must be served
(by the running server, else by the configuration), and the password must have at
least password_min_length characters. --iterations: PBKDF2's count (at least 4096).
`,
  passwd: `Usage: parley passwd JID [--config FILE] [--data DIR]
Changes an account's password (stdin or prompt); at least password_min_length characters.
`,
  deluser: `Usage: parley deluser JID [--config FILE] [--data DIR]
Deletes an account; a running server closes its sessions.
`,
  user: `Usage: parley user list [--config FILE] [--data DIR] [--json]
Lists the accounts; with a server running on the data directory, each online
account's bound resources too.
`,
  muc: `Usage: parley muc list [--config FILE] [--data DIR] [--json]
       parley muc show ROOM [--config FILE] [--data DIR]
Multi-user chat rooms that exist (from the muc_rooms projection): each with its creator,
whether it is persistent and public, and its affiliations; show prints one room's
configuration, affiliations and subject as its event stream has them (replay --room).
`,
  status: `Usage: parley status [--config FILE] [--data DIR] [--json]
Asks the server running on the data directory (over its admin socket, DIR/parley.sock)
for its version, uptime, listeners, connections, accounts and certificate. Exit 1 when
no server is running there.
`,
  backup: `Usage: parley backup FILE [--config FILE] [--data DIR]
Writes a consistent snapshot of the data directory to FILE (a tar archive), while the
server runs: the database through SQLite's online backup API, the generated certificate,
and uploaded files. FILE must not exist.
`,
  restore: `Usage: parley restore FILE [--config FILE] [--data DIR]
Restores a backup into the data directory, which must be empty or absent, checks the
database against the backup's manifest, then compares every projection with a replay
of the log (as 'parley verify' does). Exit 1 when they differ.
`,
  "import-prosody": `Usage: parley import-prosody PROSODY_DATA_DIR [--config FILE] [--data DIR] [--dry-run]
Reads Prosody's internal file storage (the directory with one folder per host) and
appends what it finds as events caused by "imported from Prosody": accounts with their
internal_hashed SCRAM credentials (the same passwords work), rosters with subscription
states and pending requests, block lists, offline messages, MAM archives, vCards,
private XML and PEP nodes with their items. Only served domains are imported; accounts already here are left alone; the server must be stopped.
All or nothing: one transaction. --dry-run reads and checks everything, writes nothing.
Prints what was imported and what was skipped, and why.
`,
  scansion: `Usage: parley scansion FILE.scs... [--host H] [--port N]
Runs scansion conversation scripts against a running server.
`,
  events: `Usage: parley events [--data DIR] [--account JID | --room ROOM] [--type T]... [--since SEQ|TIME] [--until SEQ|TIME] [--json] [--follow] [--show-secrets]
One line per event (or JSON lines); --follow waits for new ones.
`,
  replay: `Usage: parley replay --account JID [--until SEQ|TIME] [--data DIR]
       parley replay --account JID --diff A B
       parley replay --account JID --explain CONTACT
       parley replay --room ROOM [--until SEQ|TIME] [--explain JID]
The account's roster, pending requests and block list at a point; what changed between
two points; or the chain of events behind the subscription with CONTACT. With --room, a
multi-user chat room's configuration, affiliations and subject at a point, or the events
behind JID's standing in it (who made them an admin, why they cannot join).
`,
  inspect: `Usage: parley inspect [--data DIR] [--port N] [--bind ADDR] [--token T]
A web page over the event log (read-only; beside a running server too): the timeline,
time travel through an account's roster and block list, each contact's story on
RFC 6121 Appendix A, and new events live. Serves on 127.0.0.1:5290 by default and
prints the address to open, with a one-time token (--token or PARLEY_INSPECT_TOKEN to
choose it). --port 0 picks a free port. Stops on Ctrl-C.
`,
  verify: `Usage: parley verify [--data DIR]
Compares every projection with a replay of the log (writes nothing); exit 1 on a difference.
`,
  rebuild: `Usage: parley rebuild [--data DIR]
Rebuilds every projection from the log and reports any divergence.
`,
  export: `Usage: parley export [--data DIR]
Writes the event log as JSON lines on stdout.
`,
  import: `Usage: parley import FILE|- [--data DIR]
Loads exported JSON lines into an empty data directory and rebuilds the projections.
`,
};

const USAGE = `Usage: parley <command> [options]    (parley <command> --help for a command's options)

Server:
  start                     run the server in the foreground
  status                    what a running server says about itself (admin socket)
  check                     check the configuration, certificate, data directory and ports
  check features            which XEP-0479 compliance categories each domain meets

Accounts:
  adduser JID               create an account (password from stdin or a prompt); --batch for many
  passwd JID                change an account's password
  deluser JID               delete an account
  user list                 the accounts, and who is online
  muc list | show ROOM      multi-user chat rooms and their affiliations

Operations:
  backup FILE               a consistent snapshot of a running server's data directory
  restore FILE              a backup into an empty data directory, verified
  import-prosody DIR        accounts, rosters, block lists, offline messages, archives from Prosody

Debugging (on a running server's data directory; only rebuild and import write):
  events                    one line per event; --follow waits for new ones
  replay --account JID      an account's roster and block list at a point, diffs, explanations
  inspect                   a web page: timeline, time travel, stories, live events
  verify                    compare every projection with a replay of the log
  rebuild                   rebuild every projection from the log
  export                    the event log as JSON lines on stdout
  import FILE|-             load exported JSON lines into an empty data directory
  scansion FILE...          run scansion scripts against a running server
`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const CLI_ACTOR = { kind: "admin", tool: "cli" } as const;

/** The help of `command`, or undefined for an unknown one. */
function helpFor(command: string, rest: readonly string[]): string | undefined {
  if (command === "check" && rest[0] === "features") return COMMAND_HELP.check;
  return COMMAND_HELP[command];
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `parley COMMAND --help` for every command, before its own option parsing can call --help unknown.
  if (command !== undefined && (rest.includes("--help") || rest.includes("-h"))) {
    const help = helpFor(command, rest);
    if (help !== undefined) {
      process.stdout.write(help);
      return 0;
    }
  }
  if (command === "help" && rest[0] !== undefined) {
    const help = helpFor(rest[0], rest.slice(1));
    if (help === undefined) {
      process.stderr.write(`parley: no command '${rest[0]}'\n\n${USAGE}`);
      return 2;
    }
    process.stdout.write(help);
    return 0;
  }
  try {
    switch (command) {
      case "status":
        return await status(rest);
      case "user":
        return await user(rest);
      case "muc":
        return muc(rest);
      case "backup":
        return await backupCommand(rest);
      case "restore":
        return restoreCommand(rest);
      case "import-prosody":
        return await importProsodyCommand(rest);
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
      case "inspect":
        return await inspect(rest);
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
      const help = command === undefined ? undefined : helpFor(command, rest);
      process.stderr.write(`parley: ${err.message}\n\n${help ?? USAGE}`);
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
  for (const line of result.notes) out(`NOTE     ${line}`);
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
  const config = startConfig(args);
  // Node's default for SIGHUP is to exit: caught from the first moment, and one
  // that comes while the server starts is carried out once it has.
  let hupWhileStarting = false;
  const early = () => { hupWhileStarting = true; };
  process.on("SIGHUP", early);
  let server: ParleyServer;
  try {
    server = await ParleyServer.start(config);
  } finally {
    process.off("SIGHUP", early);
  }
  // SIGHUP: the configuration read again, the same way (file, environment, flags), and what can change applied.
  const reload = () => {
    let next: ServerConfig;
    try {
      next = startConfig(args);
    } catch (err) {
      server.log.error("reload: the configuration is not valid; nothing changed", { error: (err as Error).message });
      return;
    }
    server.reload(next).then(({ applied, restartNeeded }) => {
      server.log.info("reloaded the configuration", { applied: applied.join("; ") || "nothing changed" });
      if (restartNeeded.length > 0) server.log.warn("reload: these changes need a restart and were not applied", { restartNeeded: restartNeeded.join(", ") });
    }, (err: Error) => server.log.error("reload failed; nothing changed", { error: err.message }));
  };
  process.on("SIGHUP", reload);
  if (hupWhileStarting) reload();
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.off("SIGHUP", reload);
  await server.stop();
  return 0;
}

/** `parley start`'s configuration: the file, the environment, then the flags. */
function startConfig(args: string[]): ServerConfig {
  const { values, positionals } = parse(args, {
    config: { type: "string" },
    domain: { type: "string", multiple: true },
    "c2s-port": { type: "string" },
    "direct-tls-port": { type: "string" },
    "http-port": { type: "string" },
    "s2s-port": { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    "require-encryption": { type: "boolean" },
    "allow-registration": { type: "boolean" },
    admin: { type: "string", multiple: true },
    bind: { type: "string", multiple: true },
    data: { type: "string" },
    "log-level": { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`start takes no arguments, got '${positionals.join(" ")}'`);
  const config: ServerConfig = resolveConfig(configFile(values));
  if (Array.isArray(values.domain)) config.domains = values.domain.map((d: string | boolean) => String(d).toLowerCase());
  if (typeof values["c2s-port"] === "string") config.c2s.port = portNumber(values["c2s-port"], "--c2s-port");
  if (typeof values["direct-tls-port"] === "string") config.c2s.directTlsPort = portNumber(values["direct-tls-port"], "--direct-tls-port");
  if (typeof values["http-port"] === "string") config.http.port = portNumber(values["http-port"], "--http-port");
  if (typeof values["s2s-port"] === "string") config.s2s.port = portNumber(values["s2s-port"], "--s2s-port");
  if (typeof values.cert === "string") config.tls.certFile = path.resolve(values.cert);
  if (typeof values.key === "string") config.tls.keyFile = path.resolve(values.key);
  if (values["require-encryption"] === true) config.tls.requireEncryption = true;
  if (values["allow-registration"] === true) config.registration.allowed = true;
  if (Array.isArray(values.admin)) config.admins = [...config.admins, ...values.admin.map((a: string | boolean) => adminJid(String(a), "--admin"))];
  if (Array.isArray(values.bind)) {
    const hosts = values.bind.map(String);
    config.c2s.host = hosts[0] as string;
    config.c2s.extraHosts = hosts.slice(1);
  }
  if (typeof values.data === "string") config.dataDir = path.resolve(values.data);
  const level = values["log-level"];
  if (typeof level === "string") {
    if (!LOG_LEVELS.includes(level as LogLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
    config.logLevel = level as LogLevel;
  }
  return config;
}

/**
 * The configuration an account command works with: the file (--config or
 * PARLEY_CONFIG) and the environment, with --data over its data directory.
 */
function accountConfig(values: Record<string, OptionValue>): ServerConfig {
  const config = resolveConfig(configFile(values));
  if (typeof values.data === "string") config.dataDir = path.resolve(values.data);
  return config;
}

/**
 * The domains accounts may be made on: the running server's (asked on its
 * admin socket), else the configuration's.
 */
async function servedDomains(config: ServerConfig, file: string | undefined): Promise<{ domains: string[]; from: string }> {
  const running = await askServer(config.dataDir, { command: "status" }).catch(() => undefined) as ServerStatus | undefined;
  if (running !== undefined) return { domains: running.domains, from: `the server running on ${config.dataDir}` };
  return { domains: config.domains, from: file ?? "the default configuration (pass --config FILE)" };
}

/** An account on a domain nobody serves could never log in: refused, naming the served ones. */
async function refuseUnservedDomains(config: ServerConfig, file: string | undefined, jids: readonly string[]): Promise<void> {
  const { domains, from } = await servedDomains(config, file);
  for (const jid of jids) {
    const domain = jid.slice(jid.indexOf("@") + 1);
    if (!domains.includes(domain)) {
      throw new UsageError(`${domain} is not a served domain, so ${jid} could never log in; served (per ${from}): ${domains.join(", ")}`);
    }
  }
}

function refuseShortPassword(config: ServerConfig, password: string, what: string): void {
  const short = passwordTooShort(config, password);
  if (short !== undefined) throw new UsageError(`${what}: ${short}`);
}

function openStore(config: ServerConfig): EventStore {
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
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" }, batch: { type: "boolean" }, iterations: { type: "string" } });
  const config = accountConfig(values);
  const iterations = iterationsArg(values.iterations);
  if (values.batch === true) {
    if (positionals.length > 0) throw new UsageError("adduser --batch reads 'jid password' lines from stdin and takes no JID argument");
    const entries = (await readLines()).map((line, i) => {
      const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(line);
      if (!m) throw new UsageError(`line ${i + 1}: expected 'jid password'`);
      const entry = { jid: bareJidArg([m[1] as string], "adduser"), password: m[2] as string };
      refuseShortPassword(config, entry.password, `line ${i + 1} (${entry.jid})`);
      return entry;
    });
    await refuseUnservedDomains(config, configFile(values), entries.map((e) => e.jid));
    const store = openStore(config);
    try {
      await registerAccounts(store, entries, CLI_ACTOR, iterations);
    } finally {
      store.close();
    }
    process.stderr.write(`added ${entries.length} accounts\n`);
    return 0;
  }
  const jid = bareJidArg(positionals, "adduser");
  await refuseUnservedDomains(config, configFile(values), [jid]);
  const password = await readPassword();
  refuseShortPassword(config, password, jid);
  const store = openStore(config);
  try {
    registerAccount(store, jid, password, CLI_ACTOR, iterations);
  } finally {
    store.close();
  }
  process.stderr.write(`added ${jid}\n`);
  return 0;
}

async function passwd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" } });
  const config = accountConfig(values);
  const jid = bareJidArg(positionals, "passwd");
  const password = await readPassword();
  refuseShortPassword(config, password, jid);
  const store = openStore(config);
  try {
    changePassword(store, jid, password, CLI_ACTOR);
  } finally {
    store.close();
  }
  process.stderr.write(`changed the password of ${jid}\n`);
  return 0;
}

function deluser(args: string[]): number {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" } });
  const jid = bareJidArg(positionals, "deluser");
  const store = openStore(accountConfig(values));
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
    data: { type: "string" }, account: { type: "string" }, room: { type: "string" }, type: { type: "string", multiple: true },
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
      room: typeof values.room === "string" ? bareJidArg([values.room], "events --room") : undefined,
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

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: "string" }, port: { type: "string" }, bind: { type: "string" }, token: { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`inspect takes no arguments, got '${positionals.join(" ")}'`);
  const portText = typeof values.port === "string" ? values.port : "5290";
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new UsageError(`--port must be a port number (0 for any free one), got '${portText}'`);
  const token = typeof values.token === "string" ? values.token : process.env.PARLEY_INSPECT_TOKEN;
  if (token !== undefined && token.length < 16) throw new UsageError("--token must be at least 16 characters: it is all that guards the log");
  const dataDir = dataOption(values);
  return runInspector({
    store: openExisting(dataDir, true), databaseFile: dataFile(dataDir),
    host: typeof values.bind === "string" ? values.bind : "127.0.0.1", port: Number(portText), token, out,
  });
}

function replay(args: string[]): number {
  const { values, positionals } = parse(args, {
    data: { type: "string" }, account: { type: "string" }, room: { type: "string" }, until: { type: "string" },
    diff: { type: "boolean" }, explain: { type: "string" },
  });
  if (typeof values.room === "string") {
    if (typeof values.account === "string") throw new UsageError("replay takes --account or --room, not both");
    if (values.diff === true) throw new UsageError("replay --room has no --diff; use --until at two points");
    if (positionals.length > 0) throw new UsageError(`unexpected '${positionals.join(" ")}'`);
    const room = bareJidArg([values.room], "replay --room");
    const store = openExisting(dataOption(values), true);
    try {
      if (typeof values.explain === "string") explainRoom(store, room, bareJidArg([values.explain], "replay --explain"), out);
      else replayRoom(store, room, point(values.until, "--until"), out);
    } finally {
      store.close();
    }
    return 0;
  }
  if (typeof values.account !== "string") throw new UsageError("replay needs --account JID or --room ROOM");
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

function jsonOrLines(values: Record<string, OptionValue>, value: unknown, lines: () => string[]): void {
  if (values.json === true) out(JSON.stringify(value, null, 2));
  else for (const line of lines()) out(line);
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length > 0) throw new UsageError("status takes no arguments");
  const config = accountConfig(values);
  const running = await askServer(config.dataDir, { command: "status" }) as ServerStatus | undefined;
  if (running === undefined) {
    process.stderr.write(`parley status: no server is running on ${config.dataDir} (no answer on ${adminSocketPath(config.dataDir)})\n`);
    return 1;
  }
  jsonOrLines(values, running, () => statusLines(running));
  return 0;
}

function muc(args: string[]): number {
  const [sub, ...rest] = args;
  if (sub !== "list" && sub !== "show") throw new UsageError(sub === undefined ? "muc needs a subcommand: list or show" : `unknown subcommand 'muc ${sub}' (there are: list, show)`);
  const { values, positionals } = parse(rest, { config: { type: "string" }, data: { type: "string" }, json: { type: "boolean" } });
  const config = accountConfig(values);
  const store = openExisting(config.dataDir, true);
  try {
    if (sub === "show") {
      replayRoom(store, bareJidArg(positionals, "muc show"), undefined, out);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError("muc list takes no arguments");
    const rooms = store.db.prepare("SELECT room, creator, persistent, public, name FROM muc_rooms ORDER BY room").all() as
      { room: string; creator: string; persistent: number; public: number; name: string }[];
    const affiliations = store.db.prepare("SELECT jid, affiliation FROM muc_affiliations WHERE room = ? ORDER BY affiliation, jid");
    const rows = rooms.map((r) => ({ room: r.room, name: r.name, creator: r.creator, persistent: r.persistent === 1, public: r.public === 1,
      affiliations: affiliations.all(r.room) as { jid: string; affiliation: string }[] }));
    jsonOrLines(values, rows, () => [
      ...rows.map((r) => `${r.room}${r.name !== "" ? ` "${r.name}"` : ""}  ${r.persistent ? "persistent" : "temporary"}, ${r.public ? "public" : "hidden"}, created by ${r.creator}; ${r.affiliations.map((a) => `${a.jid} ${a.affiliation}`).join(", ")}`),
      `${rows.length} room${rows.length === 1 ? "" : "s"}`,
    ]);
    return 0;
  } finally {
    store.close();
  }
}

async function user(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "list") throw new UsageError(sub === undefined ? "user needs a subcommand: list" : `unknown subcommand 'user ${sub}' (there is: list)`);
  const { values, positionals } = parse(rest, { config: { type: "string" }, data: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length > 0) throw new UsageError("user list takes no arguments");
  const config = accountConfig(values);
  const store = openExisting(config.dataDir, true);
  let accounts: string[];
  try {
    accounts = listAccounts(store.db);
  } finally {
    store.close();
  }
  const online = await askServer(config.dataDir, { command: "online" }) as string[] | undefined;
  const resources = new Map<string, string[]>();
  for (const full of online ?? []) {
    const bare = full.slice(0, full.indexOf("/"));
    resources.set(bare, [...(resources.get(bare) ?? []), full.slice(full.indexOf("/") + 1)]);
  }
  const rows = accounts.map((jid) => ({ jid, online: resources.get(jid) ?? [] }));
  jsonOrLines(values, rows, () => [
    ...rows.map((r) => (r.online.length > 0 ? `${r.jid}  online: ${r.online.join(", ")}` : r.jid)),
    `${rows.length} account${rows.length === 1 ? "" : "s"}${online === undefined ? " (no server running: nobody is online)" : `, ${rows.filter((r) => r.online.length > 0).length} online`}`,
  ]);
  return 0;
}

async function backupCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("backup takes one FILE to write, e.g. parley backup /var/backups/parley-$(date +%F).tar");
  const config = accountConfig(values);
  const file = path.resolve(positionals[0] as string);
  const manifest = await backup(config.dataDir, file, (line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`wrote ${file}: ${manifest.database.events} events, ${manifest.database.accounts} accounts, ${manifest.uploads.files} uploaded files\n`);
  return 0;
}

function restoreCommand(args: string[]): number {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" } });
  if (positionals.length !== 1) throw new UsageError("restore takes one backup FILE");
  const config = accountConfig(values);
  const manifest = restore(path.resolve(positionals[0] as string), config.dataDir);
  secureDataDir(config.dataDir);
  process.stderr.write(`restored the backup of ${manifest.dataDir} taken ${manifest.createdAt} (Parley ${manifest.parleyVersion}): ` +
    `${manifest.database.events} events, ${manifest.database.accounts} accounts, ${manifest.uploads.files} uploaded files into ${config.dataDir}\n`);
  // Migrations for a backup of an older Parley run here, as at start; then the projections are checked against the log.
  const store = openExisting(config.dataDir, false);
  try {
    const ok = printReports(verifyProjections(store), out);
    out(ok ? "verified: every projection matches a replay of the log" : "the projections marked DIFF do not match the log: run parley rebuild");
    return ok ? 0 : 1;
  } finally {
    store.close();
  }
}

async function importProsodyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { config: { type: "string" }, data: { type: "string" }, "dry-run": { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("import-prosody takes Prosody's data directory, e.g. parley import-prosody /var/lib/prosody");
  const config = accountConfig(values);
  // The running server's account actors would not see accounts appended behind them.
  if (await askServer(config.dataDir, { command: "status" }).catch(() => undefined) !== undefined) {
    throw new Error(`a server is running on ${config.dataDir}: stop it first, then import`);
  }
  const { importProsody, reportLines } = await import("../ops/import-prosody/import.js");
  const dryRun = values["dry-run"] === true;
  const store = openStore(config);
  try {
    const report = await importProsody(store, config, path.resolve(positionals[0] as string), { dryRun });
    for (const line of reportLines(report, dryRun)) out(line);
  } finally {
    store.close();
  }
  return 0;
}
