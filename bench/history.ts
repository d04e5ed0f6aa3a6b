// The `history` scenario: a long event log. It writes an export file (by
// default 1,000,000 events: 10,000 accounts, one "hot" account with 100,000
// roster and block events within the default limits of 1,000 roster items and
// 1,000 blocked JIDs, one account with exactly 80 events), times `parley
// import` of it as a process (wall time, peak resident memory), then the
// debugging queries on the hot account — each as a whole process and as the
// work inside one (the same functions, called in this process on the same
// database) — and last the hot account's login to a server started on that
// data directory, with another user's login started meanwhile.
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { LoadClient } from "./load-client.js";
import { launchParley } from "./servers.js";
import { deriveScramCredential, type ScramCredential } from "../src/sasl/credentials.js";
import { EventStore } from "../src/events/store.js";
import { registerStandardProjections } from "../src/projections/index.js";
import { replayAccount, diffAccount, explain, listEvents } from "../src/cli/debug.js";
import { parseLogPoint } from "../src/replay/replay.js";
import { startInspector } from "../src/inspect/server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PARLEY_BIN = path.join(REPO, "bin", "parley.js");
const USAGE_PRELOAD = path.join(REPO, "dist", "bench", "usage-preload.js");

export interface HistorySizes {
  /** Events in the log, registrations included. */
  events: number;
  accounts: number;
  /** The hot account's roster and block events (its registration comes on top). */
  hotEvents: number;
}

export const PASSWORD = "bench-password";
export const HOT = "hot@localhost";
/** The account with exactly 80 events, for `events --account`. */
export const SMALL = "a80@localhost";
/** The contact of the hot account that `--explain` asks about. */
export const EXPLAINED = "u7@localhost";
const BASE_TIME = Date.parse("2026-01-01T00:00:00.000Z");
const CONTACTS = 1000;
const BLOCKABLE = 1000;

interface GenEvent {
  type: string;
  payload: unknown;
  by: { kind: "user"; resource: string } | { kind: "contact"; jid: string };
}

const user = { kind: "user" as const, resource: "bench" };
const contact = (jid: string) => ({ kind: "contact" as const, jid });
/** The hot account's contacts are accounts of the server (so its login's presence reaches real, offline users). */
const c = (i: number) => `u${i % CONTACTS}@localhost`;
const b = (i: number) => `b${i % BLOCKABLE}@localhost`;

/** The hot account's k-th event after its registration: 1,000 contacts made `both`, then renames, re-subscriptions and blocks. */
function hotEvent(k: number): GenEvent {
  if (k < CONTACTS * 5) {
    const jid = c(Math.floor(k / 5));
    switch (k % 5) {
      case 0: return { type: "RosterItemSet", payload: { jid, name: `Contact ${Math.floor(k / 5)}`, groups: ["Friends"] }, by: user };
      case 1: return { type: "SubscriptionRequested", payload: { jid }, by: user };
      case 2: return { type: "SubscriptionGranted", payload: { jid }, by: contact(jid) };
      case 3: return { type: "SubscriptionRequestReceived", payload: { jid, stanza: `<presence type='subscribe' from='${jid}' to='${HOT}'/>` }, by: contact(jid) };
      default: return { type: "ContactApproved", payload: { jid }, by: user };
    }
  }
  const n = k - CONTACTS * 5;
  if (n % 25_000 === 24_999) return { type: "AllContactsUnblocked", payload: {}, by: user };
  const round = Math.floor(n / 10);
  const jid = c(round * 7);
  switch (n % 10) {
    case 0: case 1: return { type: "RosterItemSet", payload: { jid, name: `Contact ${round}`, groups: round % 2 ? ["Friends"] : ["Work", "Friends"] }, by: user };
    case 2: return { type: "ContactsBlocked", payload: { jids: [b(round)] }, by: user };
    case 3: return { type: "ContactsBlocked", payload: { jids: [b(round + 500), b(round + 501)] }, by: user };
    case 4: return { type: "ContactsUnblocked", payload: { jids: [b(round + 250)] }, by: user };
    case 5: return { type: "SubscriptionCancelled", payload: { jid }, by: contact(jid) };
    case 6: return { type: "SubscriptionRequested", payload: { jid }, by: user };
    case 7: return { type: "SubscriptionGranted", payload: { jid }, by: contact(jid) };
    case 8: return { type: "ContactsUnblocked", payload: { jids: [b(round + 750)] }, by: user };
    default: return { type: "RosterItemSet", payload: { jid: c(round * 7 + 3), name: `Contact ${round}`, groups: [] }, by: user };
  }
}

/** An ordinary account's k-th event after its registration: its neighbours added, subscribed, blocked, unblocked. */
function userEvent(owner: number, accounts: number, k: number): GenEvent {
  const jid = `u${(owner + 1 + (Math.floor(k / 9) % 20)) % accounts}@localhost`;
  switch (k % 9) {
    case 0: return { type: "RosterItemSet", payload: { jid, groups: [] }, by: user };
    case 1: return { type: "SubscriptionRequested", payload: { jid }, by: user };
    case 2: return { type: "SubscriptionGranted", payload: { jid }, by: contact(jid) };
    case 3: return { type: "SubscriptionRequestReceived", payload: { jid, stanza: `<presence type='subscribe' from='${jid}'/>` }, by: contact(jid) };
    case 4: return { type: "ContactApproved", payload: { jid }, by: user };
    case 5: return { type: "ContactsBlocked", payload: { jids: [jid] }, by: user };
    case 6: return { type: "ContactsUnblocked", payload: { jids: [jid] }, by: user };
    case 7: return { type: "SubscriptionCancelled", payload: { jid }, by: contact(jid) };
    default: return { type: "RosterItemRemoved", payload: { jid }, by: user };
  }
}

/**
 * The hot account's contacts (u0…u999) begin with their side of its
 * subscriptions, so that both rosters agree as on a real server (a login's
 * probes then change nothing); after that, their own neighbours' events.
 */
function otherEvent(account: number, others: number, k: number): GenEvent {
  const owner = account === 1 ? others : account - 2;
  if (account < 2 || owner >= CONTACTS) return userEvent(owner, others, k);
  if (k >= MIRROR.length) return userEvent(owner, others, k - MIRROR.length);
  return MIRROR[k] as GenEvent;
}

const MIRROR: readonly GenEvent[] = [
  { type: "RosterItemSet", payload: { jid: HOT, groups: [] }, by: user },
  { type: "SubscriptionRequestReceived", payload: { jid: HOT, stanza: `<presence type='subscribe' from='${HOT}'/>` }, by: contact(HOT) },
  { type: "ContactApproved", payload: { jid: HOT }, by: user },
  { type: "SubscriptionRequested", payload: { jid: HOT }, by: user },
  { type: "SubscriptionGranted", payload: { jid: HOT }, by: contact(HOT) },
];

/** The same credentials for every account: the bench logs in with one password, and deriving 10,000 would take minutes. */
function benchCredentials(): ScramCredential[] {
  const salt = Buffer.from("parley-bench-salt");
  return (["SHA-256", "SHA-1"] as const).map((hash) => deriveScramCredential(PASSWORD, hash, 4096, salt));
}

/**
 * Writes the export file: registrations first, then the accounts' events
 * interleaved round by round (the hot account's spread evenly over the log).
 * Returns the seq of the hot account's middle event.
 */
export function writeHistoryExport(file: string, sizes: HistorySizes): { events: number; hotMiddleSeq: number } {
  const others = sizes.accounts - 2;
  const names = [HOT, SMALL, ...Array.from({ length: others }, (_, i) => `u${i}@localhost`)];
  const budget = sizes.events - sizes.accounts - sizes.hotEvents - 79;
  if (others < CONTACTS || budget < others) throw new Error(`history sizes do not add up: ${JSON.stringify(sizes)}`);
  const perOther = Math.floor(budget / others);
  const extra = budget - perOther * others;
  const remaining = [sizes.hotEvents, 79, ...Array.from({ length: others }, (_, i) => perOther + (i < extra ? 1 : 0))];
  const emitted = new Array<number>(names.length).fill(0);
  // Enough rounds for every account, the 80-event one included (79 after its registration).
  const rounds = Math.max(perOther + 1, 79);
  const hotPerRound = Math.ceil(sizes.hotEvents / rounds);
  const credentials = benchCredentials();
  const fd = openSync(file, "w");
  let buffer = "";
  let seq = 0;
  let hotMiddleSeq = 0;
  const emit = (account: number, e: GenEvent) => {
    seq++;
    const version = ++emitted[account]!;
    const at = new Date(BASE_TIME + seq * 10).toISOString();
    buffer += JSON.stringify({
      seq, streamId: `account:${names[account]}`, streamVersion: version, type: e.type, schemaVersion: 1,
      payload: e.payload, meta: { by: e.by, at }, recordedAt: at,
    }) + "\n";
    if (buffer.length > 1 << 20) { writeSync(fd, buffer); buffer = ""; }
  };
  try {
    for (let a = 0; a < names.length; a++) {
      emit(a, { type: "AccountRegistered", payload: { jid: names[a], credentials }, by: user });
    }
    for (let r = 0; r < rounds; r++) {
      for (let a = 0; a < names.length; a++) {
        const n = a === 0 ? hotPerRound : 1;
        for (let i = 0; i < n && remaining[a]! > 0; i++) {
          const k = emitted[a]! - 1;
          emit(a, a === 0 ? hotEvent(k) : otherEvent(a, others, k));
          remaining[a]!--;
          if (a === 0 && emitted[0] === Math.floor(sizes.hotEvents / 2)) hotMiddleSeq = seq;
        }
      }
    }
    writeSync(fd, buffer);
  } finally {
    closeSync(fd);
  }
  if (seq !== sizes.events) throw new Error(`wrote ${seq} events, not ${sizes.events}`);
  return { events: seq, hotMiddleSeq };
}

interface ProcessRun {
  wallMs: number;
  maxRssBytes: number;
  /** User + system CPU: on a shared machine, steadier than the wall time. */
  cpuS: number;
  stdout: string;
}

/** Runs `parley ARGS` as a process; its peak RSS comes from process.resourceUsage() at its exit (usage-preload.ts). */
function runParley(args: string[]): ProcessRun {
  const usageFile = path.join(os.tmpdir(), `parley-usage-${process.pid}-${Date.now()}.json`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", USAGE_PRELOAD, PARLEY_BIN, ...args], {
    encoding: "utf8", maxBuffer: 1 << 30, env: { ...process.env, PARLEY_USAGE_FILE: usageFile },
  });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`parley ${args.join(" ")} exited with ${r.status}: ${r.stderr}`);
  let maxRssBytes = NaN;
  let cpuS = NaN;
  try {
    const usage = JSON.parse(readFileSync(usageFile, "utf8")) as { maxRSS: number; userCPUTime: number; systemCPUTime: number };
    maxRssBytes = usage.maxRSS * 1024;
    cpuS = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    rmSync(usageFile, { force: true });
  } catch { /* the figures stay NaN: shown as — */ }
  return { wallMs, maxRssBytes, cpuS, stdout: r.stdout };
}

/** The work of one query inside a process: the first, cold call, and the median of three after it. */
async function timeInProcess(work: () => void | Promise<unknown>): Promise<{ coldMs: number; warmMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  const warm = times.slice(1).sort((x, y) => x - y);
  return { coldMs: times[0] as number, warmMs: warm[1] as number };
}

async function timedLogin(port: number, user: string): Promise<{ client: LoadClient; ms: number }> {
  const t0 = performance.now();
  const client = await LoadClient.connect(port, "localhost");
  await client.login(user, PASSWORD, "bench");
  return { client, ms: performance.now() - t0 };
}

export async function runHistory(sizes: HistorySizes): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "parley-history-"));
  const data = path.join(dir, "data");
  const file = path.join(dir, "history.jsonl");
  const metrics: Record<string, number> = {};
  try {
    let t0 = performance.now();
    const { hotMiddleSeq } = writeHistoryExport(file, sizes);
    metrics.generate_s = (performance.now() - t0) / 1000;
    process.stderr.write(`history: wrote ${sizes.events} events in ${metrics.generate_s.toFixed(1)} s; importing…\n`);

    const imported = runParley(["import", file, "--data", data]);
    metrics.import_s = imported.wallMs / 1000;
    metrics.import_peak_rss_mib = imported.maxRssBytes / 2 ** 20;
    metrics.import_cpu_s = imported.cpuS;
    process.stderr.write(`history: imported in ${metrics.import_s.toFixed(1)} s (${metrics.import_cpu_s.toFixed(1)} s of CPU), peak RSS ${metrics.import_peak_rss_mib.toFixed(0)} MiB\n`);

    const until = String(hotMiddleSeq);
    const diffTo = String(hotMiddleSeq + 2000);
    const queries: [string, string[], (store: EventStore) => void | Promise<unknown>][] = [
      ["replay", ["replay", "--account", HOT], (s) => replayAccount(s, HOT, undefined, () => {})],
      ["replay_until", ["replay", "--account", HOT, "--until", until], (s) => replayAccount(s, HOT, parseLogPoint(until), () => {})],
      ["explain", ["replay", "--account", HOT, "--explain", EXPLAINED], (s) => explain(s, HOT, EXPLAINED, () => {})],
      ["diff", ["replay", "--account", HOT, "--diff", until, diffTo], (s) => diffAccount(s, HOT, parseLogPoint(until), parseLogPoint(diffTo), () => {})],
      ["events_account80", ["events", "--account", SMALL], (s) => listEvents(s, { account: SMALL }, false, () => {})],
    ];
    for (const [name, args, work] of queries) {
      const proc = runParley([...args, "--data", data]);
      metrics[`${name}_process_ms`] = proc.wallMs;
      const store = EventStore.open(path.join(data, "parley.sqlite"), { readonly: true });
      registerStandardProjections(store);
      try {
        const { coldMs, warmMs } = await timeInProcess(() => work(store));
        metrics[`${name}_work_ms`] = coldMs;
        metrics[`${name}_work_warm_ms`] = warmMs;
      } finally {
        store.close();
      }
      if (name === "events_account80") metrics.events_account80_lines = proc.stdout.trim().split("\n").length;
      process.stderr.write(`history: ${name}: ${proc.wallMs.toFixed(0)} ms as a process, ${metrics[`${name}_work_ms`]?.toFixed(1)} ms of work\n`);
    }

    // The inspector's page on this log: what its first load asks for, and the hot
    // account's time-travel answers, over HTTP from an in-process inspector.
    {
      const store = EventStore.open(path.join(data, "parley.sqlite"), { readonly: true });
      registerStandardProjections(store);
      const inspector = await startInspector({ store, databaseFile: "bench", host: "127.0.0.1", port: 0 });
      const base = `http://127.0.0.1:${inspector.port}`;
      const auth = { headers: { Authorization: `Bearer ${inspector.token}` } };
      const fetchAll = async (paths: string[]) => { for (const p of paths) { const r = await fetch(base + p, auth); if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`); await r.text(); } };
      const middle = Math.floor(sizes.hotEvents / 2);
      const pages: [string, string[]][] = [
        ["inspect_first_load", ["/", "/app.js", "/style.css", "/api/streams?prefix=account:&limit=100", "/api/events?limit=100"]],
        ["inspect_account_now", [`/api/account?jid=${HOT}`]],
        ["inspect_account_middle", [`/api/account?jid=${HOT}&version=${middle}`, `/api/step?jid=${HOT}&version=${middle}`]],
        ["inspect_story", [`/api/story?jid=${HOT}&contact=${EXPLAINED}`]],
        ["inspect_timeline_hot", [`/api/events?stream=account:${HOT}&limit=100`]],
      ];
      try {
        for (const [name, paths] of pages) {
          const { coldMs, warmMs } = await timeInProcess(() => fetchAll(paths));
          metrics[`${name}_ms`] = coldMs;
          metrics[`${name}_warm_ms`] = warmMs;
          process.stderr.write(`history: ${name}: ${coldMs.toFixed(1)} ms (warm ${warmMs.toFixed(1)} ms)\n`);
        }
      } finally {
        await inspector.close();
        store.close();
      }
    }

    // Logins: the hot account's, and another user's started 20 ms later, on a fresh server.
    const server = await launchParley(data);
    try {
      const alone = await timedLogin(server.port, "u1");
      metrics.other_login_alone_ms = alone.ms;
      await alone.client.close();
      t0 = performance.now();
      const hot = timedLogin(server.port, "hot");
      await new Promise((r) => setTimeout(r, 20));
      const other = await timedLogin(server.port, "u2");
      metrics.other_login_during_hot_ms = other.ms;
      const hotDone = await hot;
      metrics.hot_login_ms = hotDone.ms;
      await Promise.all([hotDone.client.close(), other.client.close()]);
    } catch (err) {
      process.stderr.write(`history: login failed: ${(err as Error).message}\n`);
      metrics.hot_login_ms = NaN;
    } finally {
      await server.stop();
    }
    process.stderr.write(`history: hot login ${metrics.hot_login_ms?.toFixed(0)} ms, another login meanwhile ${metrics.other_login_during_hot_ms?.toFixed(0)} ms\n`);
    return metrics;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
