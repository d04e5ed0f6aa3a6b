// The load scenarios. Each runs against a freshly started server process and
// returns its figures; the server's CPU and memory come from /proc, the load
// generator's own CPU from process.cpuUsage, so a saturated generator shows.
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { LoadClient, hasId } from "./load-client.js";
import { cpuSeconds, residentBytes, type Account, type ServerUnderTest } from "./servers.js";
import { runHistory, type HistorySizes } from "./history.js";
import { runS2s } from "./s2s.js";

export interface ScenarioSizes {
  messagePairs: number;
  messageWindow: number;
  seconds: number;
  logins: number;
  loginConcurrency: number;
  presenceUsers: number;
  idleSessions: number[];
  eventClients: number;
  /** The history scenario's log: events, accounts, and the hot account's events. */
  history: HistorySizes;
  /** The muc scenario: rooms, and occupants in each. */
  mucRooms: number;
  mucOccupants: number;
}

export const FULL_SIZES: ScenarioSizes = {
  messagePairs: 50, messageWindow: 10, seconds: 10, logins: 1000, loginConcurrency: 50,
  presenceUsers: 100, idleSessions: [2000, 10000], eventClients: 20,
  history: { events: 1_000_000, accounts: 10_000, hotEvents: 100_000 },
  mucRooms: 50, mucOccupants: 20,
};

export const QUICK_SIZES: ScenarioSizes = {
  messagePairs: 10, messageWindow: 5, seconds: 3, logins: 100, loginConcurrency: 20,
  presenceUsers: 20, idleSessions: [200], eventClients: 5,
  history: { events: 100_000, accounts: 1_100, hotEvents: 20_000 },
  mucRooms: 5, mucOccupants: 5,
};

/** Figures of one run; names end in their unit. */
export type Metrics = Record<string, number>;

export interface Scenario {
  name: "message" | "login" | "presence" | "idle" | "events" | "history" | "pep" | "modern" | "muc" | "s2s";
  /** Run against servers with carbons, the archive and stream management on (LaunchOptions.modern). */
  modern?: boolean;
  describe: string;
  /** Which metric decides, and whether more is better. */
  headline: { metric: string; higherIsBetter: boolean }[];
  run(server: ServerUnderTest, sizes: ScenarioSizes): Promise<Metrics>;
  /**
   * A scenario of Parley's own that makes its own data directory and server
   * (history): run instead of `run`, once per run, without a prepared server.
   */
  runAlone?(sizes: ScenarioSizes, server: "parley" | "prosody"): Promise<Metrics>;
  /** The servers runAlone measures; Parley only when absent (history is Parley's own log). */
  aloneOn?: readonly ("parley" | "prosody")[];
  /**
   * Measurements beside the servers' own columns, run once per run whether or
   * not `--vs prosody` is given: the s2s scenario's Parley–Prosody pair.
   */
  extras?: readonly { name: string; run(sizes: ScenarioSizes): Promise<Metrics> }[];
}

const PASSWORD = "bench-password";
/** Prosody 0.12's default for new credentials; the login scenario uses it on both servers. */
export const LOGIN_ITERATIONS = 10_000;
const ITERATIONS = 4096;

export function accountsFor(sizes: ScenarioSizes): Account[] {
  const accounts: Account[] = [];
  const add = (prefix: string, n: number, iterations = ITERATIONS) => {
    for (let i = 0; i < n; i++) accounts.push({ user: `${prefix}${i}`, password: PASSWORD, iterations });
  };
  add("m", sizes.messagePairs * 2);
  add("l", Math.min(sizes.logins, 200), LOGIN_ITERATIONS);
  const presenceUsers = range("p", sizes.presenceUsers);
  for (const user of presenceUsers) accounts.push({ user, password: PASSWORD, iterations: ITERATIONS, contacts: presenceUsers.filter((u) => u !== user) });
  add("i", Math.max(...sizes.idleSessions));
  add("e", sizes.eventClients + 2);
  add("c", sizes.mucRooms * sizes.mucOccupants);
  return accounts;
}

/** Runs `task` over items with at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function loginAll(server: ServerUnderTest, users: readonly string[], concurrency: number, presence = true): Promise<LoadClient[]> {
  return pool(users, concurrency, async (user) => {
    const c = await LoadClient.connect(server.port, server.domain);
    await c.login(user, PASSWORD, "bench", { presence });
    return c;
  });
}

const range = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}${i + from}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * The machine's CPU time so far, all cores, from /proc/stat (Linux): the total
 * and the part stolen by the hypervisor for other guests. On a shared VM a
 * run with much steal is slower for reasons outside the server.
 */
function machineTicks(): { total: number; steal: number } | undefined {
  try {
    const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const first8 = fields.slice(0, 8);
    if (first8.length < 8 || first8.some((n) => !Number.isFinite(n))) return undefined;
    return { total: first8.reduce((a, b) => a + b, 0), steal: first8[7] as number };
  } catch {
    return undefined;
  }
}

/** Measures the server's and the generator's CPU, and the machine's steal, over a window. */
function cpuMeter(pid: number) {
  const server0 = cpuSeconds(pid);
  const gen0 = process.cpuUsage();
  const ticks0 = machineTicks();
  const t0 = performance.now();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const gen = process.cpuUsage(gen0);
    const ticks = machineTicks();
    const stealPct = ticks && ticks0 && ticks.total > ticks0.total ? (100 * (ticks.steal - ticks0.steal)) / (ticks.total - ticks0.total) : NaN;
    return { wall, server: cpuSeconds(pid) - server0, generator: (gen.user + gen.system) / 1e6, stealPct };
  };
}

/** One warm-up second, then the measured window; `phase` tells the load which it is in. */
async function measuredWindow(pid: number, seconds: number, phase: { running: boolean; measuring: boolean }) {
  await sleep(1000);
  phase.measuring = true;
  const meter = cpuMeter(pid);
  await sleep(seconds * 1000);
  const cpu = meter();
  phase.measuring = false;
  phase.running = false;
  return cpu;
}

async function waitUntil(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(20);
}

const bodyTime = (stanza: string): number => {
  const i = stanza.indexOf("<body>");
  return i < 0 ? NaN : parseFloat(stanza.slice(i + 6, stanza.indexOf("<", i + 6)));
};

export const message: Scenario = {
  name: "message",
  describe: "pairs of clients exchange chat messages, a bounded number in flight per sender",
  headline: [
    { metric: "messages_per_s", higherIsBetter: true },
    { metric: "server_cpu_s_per_10k", higherIsBetter: false },
    { metric: "latency_p99_ms", higherIsBetter: false },
  ],
  async run(server, sizes) {
    const clients = await loginAll(server, range("m", sizes.messagePairs * 2), 50);
    const phase = { running: true, measuring: false };
    let sent = 0;
    let received = 0;
    let delivered = 0;
    const latencies: number[] = [];
    const inflight = new Int32Array(clients.length);
    const sendFrom = (i: number) => {
      const peer = clients[i ^ 1] as LoadClient;
      (clients[i] as LoadClient).send(`<message to='${peer.jid}' type='chat' id='m${sent}'><body>${performance.now().toFixed(3)}</body></message>`);
      sent++;
      inflight[i]!++;
    };
    clients.forEach((c, i) => {
      c.onStanza = (stanza, name) => {
        if (name !== "message") return;
        const sender = i ^ 1;
        received++;
        inflight[sender]!--;
        if (phase.measuring) {
          delivered++;
          latencies.push(performance.now() - bodyTime(stanza));
        }
        if (phase.running) sendFrom(sender);
      };
    });
    for (let i = 0; i < clients.length; i++) for (let w = 0; w < sizes.messageWindow; w++) sendFrom(i);
    const cpu = await measuredWindow(server.pid, sizes.seconds, phase);
    await waitUntil(() => received === sent, 10_000);
    const sorted = Float64Array.from(latencies).sort();
    await Promise.all(clients.map((c) => c.close()));
    return {
      messages_per_s: delivered / cpu.wall,
      server_cpu_s_per_10k: (cpu.server / delivered) * 10_000,
      server_cores: cpu.server / cpu.wall,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      lost: sent - received,
      generator_cores: cpu.generator / cpu.wall,
      cpu_steal_pct: cpu.stealPct,
    };
  },
};

export const login: Scenario = {
  name: "login",
  describe: `connect + SASL PLAIN (PBKDF2, ${LOGIN_ITERATIONS} iterations) + bind + initial presence, then close`,
  headline: [{ metric: "logins_per_s", higherIsBetter: true }],
  async run(server, sizes) {
    const users = Array.from({ length: sizes.logins }, (_, i) => `l${i % Math.min(sizes.logins, 200)}`);
    const meter = cpuMeter(server.pid);
    let n = 0;
    await pool(users, sizes.loginConcurrency, async (user) => {
      const c = await LoadClient.connect(server.port, server.domain);
      await c.login(user, PASSWORD, `r${n++}`);
      await c.close();
    });
    const cpu = meter();
    return {
      logins_per_s: users.length / cpu.wall,
      server_cpu_ms_per_login: (cpu.server / users.length) * 1000,
      server_cores: cpu.server / cpu.wall,
      generator_cores: cpu.generator / cpu.wall,
    };
  },
};

/** Makes every pair of `users` subscribed both ways, over the protocol, so it works on any server. */
async function subscribeEveryone(server: ServerUnderTest, users: readonly string[]): Promise<void> {
  // Subscription requests reach only available resources (RFC 6121 §3.1.3), hence initial presence.
  const clients = await loginAll(server, users, 50);
  const jids = clients.map((c) => c.jid.split("/")[0] as string);
  for (const c of clients) {
    c.onStanza = (stanza, name) => {
      const from = /from=['"]([^'"/]+)/.exec(stanza)?.[1];
      if (name === "presence" && /type=['"]subscribe['"]/.test(stanza) && from) c.send(`<presence type='subscribed' to='${from}'/>`);
    };
  }
  clients.forEach((c, i) => {
    for (const [j, jid] of jids.entries()) if (j !== i) c.send(`<presence type='subscribe' to='${jid}'/>`);
  });
  const expected = users.length - 1;
  const complete = async (c: LoadClient, k: number) => {
    const roster = c.waitFor((s, n) => n === "iq" && hasId(s, `roster${k}`), 60_000, "the roster");
    c.send(`<iq type='get' id='roster${k}'><query xmlns='jabber:iq:roster'/></iq>`);
    return ((await roster).match(/subscription=['"]both['"]/g) ?? []).length === expected;
  };
  for (let k = 0; ; k++) {
    const states = await Promise.all(clients.map((c) => complete(c, k)));
    if (states.every(Boolean)) break;
    if (k > 60) throw new Error("the presence users did not all end up subscribed both ways");
    await sleep(1000);
  }
  await Promise.all(clients.map((c) => c.close()));
}

const subscribedServers = new Set<string>();

/** The users' mutual-subscription rosters, made once per server data directory (presence, pep). */
async function ensureSubscribed(server: ServerUnderTest, users: readonly string[]): Promise<void> {
  // Rosters live in the server's data directory, which outlives one process.
  const key = `${server.name}:${server.dataDir}`;
  if (!server.rostersPreset && !subscribedServers.has(key)) {
    await subscribeEveryone(server, users);
    subscribedServers.add(key);
  }
}

/**
 * Each send reaches `fanout` clients: sends go round the clients, at most two
 * rounds of deliveries outstanding, through the measured window; `counts`
 * says which received stanzas are the deliveries.
 */
async function fanoutWindow(server: ServerUnderTest, sizes: ScenarioSizes, clients: readonly LoadClient[], fanout: number,
  send: (c: LoadClient, n: number) => void, counts: (stanza: string, name: string) => boolean) {
  const phase = { running: true, measuring: false };
  let sent = 0;
  let received = 0;
  let counted = 0;
  const cap = fanout * clients.length * 2;
  let turn = 0;
  const pump = () => {
    while (phase.running && sent * fanout - received < cap) send(clients[turn++ % clients.length] as LoadClient, sent++);
  };
  for (const c of clients) {
    c.onStanza = (stanza, name) => {
      if (!counts(stanza, name)) return;
      received++;
      if (phase.measuring) counted++;
      if (received % 64 === 0) pump();
    };
  }
  pump();
  const ticker = setInterval(pump, 5);
  const cpu = await measuredWindow(server.pid, sizes.seconds, phase);
  clearInterval(ticker);
  await waitUntil(() => received >= sent * fanout, 10_000);
  await Promise.all(clients.map((c) => c.close()));
  return {
    perSecond: counted / cpu.wall,
    rest: {
      server_cpu_s_per_10k: (cpu.server / counted) * 10_000,
      server_cores: cpu.server / cpu.wall,
      undelivered: Math.max(0, sent * fanout - received),
      generator_cores: cpu.generator / cpu.wall,
    },
  };
}

export const presence: Scenario = {
  name: "presence",
  describe: "users with mutual subscriptions all changing presence; counts presence stanzas delivered",
  headline: [{ metric: "presence_per_s", higherIsBetter: true }],
  async run(server, sizes) {
    const users = range("p", sizes.presenceUsers);
    await ensureSubscribed(server, users);
    const clients = await loginAll(server, users, 50);
    await sleep(1000); // the initial presences settle
    const r = await fanoutWindow(server, sizes, clients, users.length, // every contact and the sender's own resource
      (c, n) => c.send(`<presence><show>${n % 2 === 0 ? "away" : "dnd"}</show><status>${n}</status></presence>`),
      (_stanza, name) => name === "presence");
    return { presence_per_s: r.perSecond, ...r.rest };
  },
};

export const idle: Scenario = {
  name: "idle",
  describe: "resident memory per idle authenticated session (bound, initial presence sent)",
  headline: [] as { metric: string; higherIsBetter: boolean }[],
  async run(server, sizes) {
    const metrics: Metrics = {};
    await sleep(500);
    const base = residentBytes(server.pid);
    let open: LoadClient[] = [];
    let from = 0;
    for (const n of sizes.idleSessions) {
      const more = await loginAll(server, range("i", n - open.length, from), 100);
      open = open.concat(more);
      from = open.length;
      await sleep(3000); // let the server settle: buffers freed, timers armed
      metrics[`rss_bytes_per_session_${n}`] = (residentBytes(server.pid) - base) / n;
    }
    metrics.rss_base_bytes = base;
    await Promise.all(open.map((c) => { c.destroy(); return Promise.resolve(); }));
    return metrics;
  },
};
idle.headline = FULL_SIZES.idleSessions.map((n) => ({ metric: `rss_bytes_per_session_${n}`, higherIsBetter: false }));

/**
 * `n` block IQs (XEP-0191), each for another JID, written in one go on one
 * stream: milliseconds until the first result arrives, and until the last.
 */
async function pipelinedBurst(c: LoadClient, n: number): Promise<{ first: number; last: number }> {
  let first = NaN;
  let seen = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pipelined burst: ${seen} of ${n} results within 30 s`)), 30_000);
    c.onStanza = (stanza, name) => {
      if (name !== "iq" || !/id=['"]burst\d+['"]/.test(stanza)) return;
      if (seen++ === 0) first = performance.now() - t0;
      if (seen === n) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  c.send(Array.from({ length: n }, (_, i) => `<iq type='set' id='burst${i}'><block xmlns='urn:xmpp:blocking'><item jid='burst${i}@localhost'/></block></iq>`).join(""));
  await done;
  return { first, last: performance.now() - t0 };
}

export const events: Scenario = {
  name: "events",
  describe: "clients block/unblock and add/remove roster items as fast as answered, while a pair exchanges messages; then 300 block IQs pipelined on one stream",
  headline: [
    { metric: "events_per_s", higherIsBetter: true },
    { metric: "routing_p99_ms", higherIsBetter: false },
    { metric: "routing_max_ms", higherIsBetter: false },
  ],
  async run(server, sizes) {
    const clients = await loginAll(server, range("e", sizes.eventClients), 50, false);
    const [a, b] = await loginAll(server, range("e", 2, sizes.eventClients), 2) as [LoadClient, LoadClient];
    const phase = { running: true, measuring: false };
    let acknowledged = 0;
    let errors = 0;
    const routing: number[] = [];
    const commands = (i: number, k: number): string => {
      // Each contact is blocked then unblocked, or added then removed: every command changes state.
      const contact = `x${Math.floor(k / 2) % 50}-${i}@localhost`;
      switch (k % 4) {
        case 0: return `<iq type='set' id='c${k}'><block xmlns='urn:xmpp:blocking'><item jid='${contact}'/></block></iq>`;
        case 1: return `<iq type='set' id='c${k}'><unblock xmlns='urn:xmpp:blocking'><item jid='${contact}'/></unblock></iq>`;
        case 2: return `<iq type='set' id='c${k}'><query xmlns='jabber:iq:roster'><item jid='${contact}'/></query></iq>`;
        default: return `<iq type='set' id='c${k}'><query xmlns='jabber:iq:roster'><item jid='${contact}' subscription='remove'/></query></iq>`;
      }
    };
    clients.forEach((c, i) => {
      let k = 0;
      c.onStanza = (stanza, name) => {
        if (name !== "iq" || !hasId(stanza, `c${k}`)) return;
        if (/type=['"]error['"]/.test(stanza)) errors++;
        else if (phase.measuring) acknowledged++;
        k++;
        if (phase.running) c.send(commands(i, k));
      };
      c.send(commands(i, 0));
    });
    // The probe: one message every 5 ms from a to b, each timed.
    b.onStanza = (stanza, name) => {
      if (name === "message" && phase.measuring) routing.push(performance.now() - bodyTime(stanza));
    };
    const probe = setInterval(() => a.send(`<message to='${b.jid}' type='chat'><body>${performance.now().toFixed(3)}</body></message>`), 5);
    const cpu = await measuredWindow(server.pid, sizes.seconds, phase);
    clearInterval(probe);
    await sleep(300);
    const sorted = Float64Array.from(routing).sort();
    const burst = await pipelinedBurst(a, 300);
    await Promise.all([...clients, a, b].map((c) => c.close()));
    return {
      burst300_first_result_ms: burst.first,
      burst300_last_result_ms: burst.last,
      events_per_s: acknowledged / cpu.wall,
      errors,
      server_cores: cpu.server / cpu.wall,
      routing_p50_ms: percentile(sorted, 50),
      routing_p99_ms: percentile(sorted, 99),
      routing_max_ms: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : NaN,
      generator_cores: cpu.generator / cpu.wall,
      cpu_steal_pct: cpu.stealPct,
    };
  },
};

export const history: Scenario = {
  name: "history",
  describe: "a long log (1 M events, one account with 100 k): import, replay/explain/diff/events queries, the hot account's login",
  headline: [
    { metric: "import_s", higherIsBetter: false },
    { metric: "import_peak_rss_mib", higherIsBetter: false },
    { metric: "replay_work_ms", higherIsBetter: false },
    { metric: "hot_login_ms", higherIsBetter: false },
  ],
  run() {
    return Promise.reject(new Error("the history scenario makes its own server (runAlone)"));
  },
  runAlone: (sizes) => runHistory(sizes.history),
};

/**
 * The message scenario as today's clients make it (issue 15): every user on two
 * resources, a phone at priority 1 and a laptop at 0, both with carbons
 * (XEP-0280) and stream management (XEP-0198, acks answered) enabled, the
 * archive (XEP-0313) on. A message to the peer's bare JID goes to its phone,
 * a received carbon to its laptop and a sent carbon to the sender's laptop,
 * and is archived twice. Counted: messages that reached the phone.
 */
export const modern: Scenario = {
  name: "modern",
  modern: true,
  describe: "message pairs, each user on two resources with carbons, MAM and stream management",
  headline: [
    { metric: "messages_per_s", higherIsBetter: true },
    { metric: "server_cpu_s_per_10k", higherIsBetter: false },
    { metric: "latency_p99_ms", higherIsBetter: false },
  ],
  async run(server, sizes) {
    const users = range("m", sizes.messagePairs * 2);
    const online = (resource: string, priority: number) => pool(users, 50, async (user) => {
      const c = await LoadClient.connect(server.port, server.domain);
      await c.login(user, PASSWORD, resource, { presence: false });
      await c.enableStreamManagement();
      const carbons = c.waitFor((s, n) => n === "iq" && s.includes("id='carbons'"), 30_000, "the carbons result");
      c.send("<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
      await carbons;
      await c.ping(`ready-${resource}`);
      c.send(`<presence><priority>${priority}</priority></presence>`);
      return c;
    });
    const phones = await online("phone", 1);
    const laptops = await online("laptop", 0);
    await Promise.all([...phones, ...laptops].map((c) => c.ping("settled")));
    const phase = { running: true, measuring: false };
    let sent = 0;
    let received = 0;
    let delivered = 0;
    let carbons = 0;
    const latencies: number[] = [];
    const bare = (i: number) => (phones[i] as LoadClient).jid.split("/")[0] as string;
    const sendFrom = (i: number) => {
      (phones[i] as LoadClient).send(`<message to='${bare(i ^ 1)}' type='chat' id='m${sent}'><body>${performance.now().toFixed(3)}</body></message>`);
      sent++;
    };
    phones.forEach((c, i) => {
      c.onStanza = (stanza, name) => {
        if (name !== "message" || stanza.includes("urn:xmpp:carbons:2")) return;
        received++;
        if (phase.measuring) {
          delivered++;
          latencies.push(performance.now() - bodyTime(stanza));
        }
        if (phase.running) sendFrom(i ^ 1);
      };
    });
    laptops.forEach((c) => {
      c.onStanza = (stanza, name) => {
        if (name === "message" && phase.measuring && stanza.includes("urn:xmpp:carbons:2")) carbons++;
      };
    });
    for (let i = 0; i < phones.length; i++) for (let w = 0; w < sizes.messageWindow; w++) sendFrom(i);
    const cpu = await measuredWindow(server.pid, sizes.seconds, phase);
    await waitUntil(() => received === sent, 10_000);
    const sorted = Float64Array.from(latencies).sort();
    await Promise.all([...phones, ...laptops].map((c) => c.close()));
    return {
      messages_per_s: delivered / cpu.wall,
      carbons_per_s: carbons / cpu.wall,
      server_cpu_s_per_10k: (cpu.server / delivered) * 10_000,
      server_cores: cpu.server / cpu.wall,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      lost: sent - received,
      generator_cores: cpu.generator / cpu.wall,
      cpu_steal_pct: cpu.stealPct,
    };
  },
};

/** XEP-0115 caps of the bench client: +notify for tunes, the hash as §5.1 makes it (so the server caches it). */
const PEP_CAPS_FEATURES = ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/tune+notify"];
const PEP_CAPS_NODE = "https://parley.example/bench";
const PEP_CAPS_VER = createHash("sha1").update(`client/pc//bench<${PEP_CAPS_FEATURES.map((f) => `${f}<`).join("")}`).digest("base64");

export const pep: Scenario = {
  name: "pep",
  describe: "users with mutual subscriptions and tune+notify caps publishing XEP-0118 tunes on PEP; counts notifications delivered",
  headline: [{ metric: "notifications_per_s", higherIsBetter: true }],
  async run(server, sizes) {
    const users = range("p", sizes.presenceUsers);
    await ensureSubscribed(server, users);
    const clients = await loginAll(server, users, 50);
    // Each announces its caps and answers the server's disco#info (XEP-0115 §6.3).
    for (const c of clients) {
      c.onStanza = (stanza, name) => {
        if (name !== "iq" || !/type=['"]get['"]/.test(stanza) || !stanza.includes("disco#info")) return;
        const id = /id=['"]([^'"]+)/.exec(stanza)?.[1] ?? "";
        const from = /from=['"]([^'"]+)/.exec(stanza)?.[1] ?? "";
        c.send(`<iq type='result' id='${id}' to='${from}'><query xmlns='http://jabber.org/protocol/disco#info' node='${PEP_CAPS_NODE}#${PEP_CAPS_VER}'>` +
          `<identity category='client' type='pc' name='bench'/>${PEP_CAPS_FEATURES.map((f) => `<feature var='${f}'/>`).join("")}</query></iq>`);
      };
      c.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${PEP_CAPS_NODE}' ver='${PEP_CAPS_VER}'/></presence>`);
    }
    await sleep(2000); // caps asked, answered and cached; presences settle
    const r = await fanoutWindow(server, sizes, clients, users.length, // every contact and the publisher's own resource
      (c, n) => c.send(`<iq type='set' id='tune${n}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/tune'>` +
        `<item id='current'><tune xmlns='http://jabber.org/protocol/tune'><title>${n}</title></tune></item></publish></pubsub></iq>`),
      (stanza, name) => name === "message" && stanza.includes("pubsub#event"));
    return { notifications_per_s: r.perSecond, ...r.rest };
  },
};

/**
 * XEP-0045 group chat: `mucRooms` rooms of `mucOccupants` each (made instant by
 * their first occupant, archived on both servers: Parley's [muc] archive, Prosody's
 * muc_mam); in every room the occupants post in turn, the next when the previous
 * one's message has come back to its sender, all rooms at once.
 */
export const muc: Scenario = {
  name: "muc",
  describe: "rooms of occupants posting in turn; every message reaches every occupant",
  headline: [
    { metric: "deliveries_per_s", higherIsBetter: true },
    { metric: "latency_p99_ms", higherIsBetter: false },
    { metric: "server_cpu_s_per_10k", higherIsBetter: false },
  ],
  async run(server, sizes) {
    const domain = `conference.${server.domain}`;
    const rooms = range("bench", sizes.mucRooms).map((r) => `${r}@${domain}`);
    const users = range("c", sizes.mucRooms * sizes.mucOccupants);
    const clients = await loginAll(server, users, 50, false);
    const roomOf = (i: number) => rooms[Math.floor(i / sizes.mucOccupants)] as string;
    const join = async (c: LoadClient, i: number) => {
      const room = roomOf(i);
      const subject = c.waitFor((st, n) => n === "message" && st.includes("<subject") && st.includes(room), 30_000, `the subject of ${room}`);
      c.send(`<presence to='${room}/n${i}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
      await subject;
    };
    // Each room's first occupant creates it and submits the instant configuration; then the others join.
    await pool(rooms, 25, async (room, r) => {
      const first = r * sizes.mucOccupants;
      const c = clients[first] as LoadClient;
      await join(c, first);
      const done = c.waitFor((st, n) => n === "iq" && hasId(st, "cfg"), 30_000, "the room configuration");
      c.send(`<iq type='set' id='cfg' to='${room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
      await done;
    });
    await pool(clients.map((c, i) => ({ c, i })).filter(({ i }) => i % sizes.mucOccupants !== 0), 50, ({ c, i }) => join(c, i));

    const phase = { running: true, measuring: false };
    let sent = 0;
    let echoed = 0;
    let delivered = 0;
    const latencies: number[] = [];
    const turn = new Int32Array(sizes.mucRooms);
    const post = (r: number) => {
      const i = r * sizes.mucOccupants + (turn[r] as number);
      (clients[i] as LoadClient).send(`<message type='groupchat' to='${rooms[r]}' id='g${sent}'><body>${performance.now().toFixed(3)}</body></message>`);
      sent++;
    };
    clients.forEach((c, i) => {
      const r = Math.floor(i / sizes.mucOccupants);
      const nick = `/n${i}'`;
      c.onStanza = (stanza, name) => {
        if (name !== "message" || !stanza.includes("type='groupchat'") && !stanza.includes('type="groupchat"')) return;
        if (!stanza.includes("<body>")) return;
        if (phase.measuring) {
          delivered++;
          latencies.push(performance.now() - bodyTime(stanza));
        }
        // The sender's own copy came back: the next occupant's turn.
        const mine = i === r * sizes.mucOccupants + (turn[r] as number) && (stanza.includes(`from='${roomOf(i)}${nick}`) || stanza.includes(`from="${roomOf(i)}${nick.replace("'", '"')}`));
        if (mine) {
          echoed++;
          turn[r] = ((turn[r] as number) + 1) % sizes.mucOccupants;
          if (phase.running) post(r);
        }
      };
    });
    for (let r = 0; r < sizes.mucRooms; r++) post(r);
    const cpu = await measuredWindow(server.pid, sizes.seconds, phase);
    await waitUntil(() => echoed === sent, 10_000);
    const sorted = Float64Array.from(latencies).sort();
    await Promise.all(clients.map((c) => c.close()));
    return {
      deliveries_per_s: delivered / cpu.wall,
      messages_per_s: delivered / sizes.mucOccupants / cpu.wall,
      server_cpu_s_per_10k: (cpu.server / delivered) * 10_000,
      server_cores: cpu.server / cpu.wall,
      latency_p50_ms: percentile(sorted, 50),
      latency_p99_ms: percentile(sorted, 99),
      lost: sent - echoed,
      generator_cores: cpu.generator / cpu.wall,
    };
  },
};

// The parley column is a Parley–Parley pair, the prosody column (with --vs prosody)
// a Prosody–Prosody pair, and beside them a Parley–Prosody pair: 100 users on
// each side at full size, messages both ways.
export const s2s: Scenario = {
  name: "s2s",
  describe: "pairs of users on two federated servers (STARTTLS, dialback) exchange chat messages, a bounded number in flight per sender: Parley–Parley, Prosody–Prosody (--vs prosody) and Parley–Prosody",
  headline: [
    { metric: "messages_per_s", higherIsBetter: true },
    { metric: "latency_p99_ms", higherIsBetter: false },
  ],
  run() {
    return Promise.reject(new Error("the s2s scenario makes its own two servers (runAlone)"));
  },
  aloneOn: ["parley", "prosody"],
  runAlone: (sizes, server) => runS2s(server === "parley" ? "parley-parley" : "prosody-prosody", sizes.messagePairs * 2, sizes.messageWindow, sizes.seconds),
  extras: [{ name: "parley-prosody", run: (sizes) => runS2s("parley-prosody", sizes.messagePairs * 2, sizes.messageWindow, sizes.seconds) }],
};

export const SCENARIOS: readonly Scenario[] = [message, login, presence, idle, events, history, pep, modern, muc, s2s];
