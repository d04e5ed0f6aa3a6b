// `parley inspect` on the log of a scansion script (the README's debugging
// walk-through: subscriptions both ways, a block and an unblock, an
// unsubscribe), beside the server that wrote it: the
// token, the JSON answers behind the page, live events, and the page itself in
// headless Chromium (Debian's, driven by playwright-core), stepped through
// romeo's history and checked at every step against `parley replay --until`.
// Screenshots go to test-results/inspect/.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { PARLEY_BIN } from "../helpers/server-process.js";
import { repoRoot } from "../helpers/paths.js";
import { RawClient } from "../helpers/raw-client.js";
import { parseScript } from "../../src/scansion/script.js";
import { runScript, formatFailure, accountsOf } from "../../src/scansion/runner.js";

const SCRIPTS = [path.join(repoRoot(), "test", "scansion", "debugging_walkthrough.scs")];
const TOKEN = "inspect-test-token-0123456789";
const ARTIFACTS = path.join(repoRoot(), "test-results", "inspect");
const CHROMIUM = "/usr/bin/chromium";

let dataDir = "";
let ts: TestServer | undefined;
let inspector: ChildProcess | undefined;
let base = "";

function parley(args: string[]) {
  return spawnSync(process.execPath, [PARLEY_BIN, ...args], { encoding: "utf8", timeout: 30_000 });
}

async function get(p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(base + p, { headers, redirect: "manual" });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

const AUTH = { Authorization: `Bearer ${TOKEN}` };

async function getJson<T>(p: string): Promise<T> {
  const r = await get(p, AUTH);
  assert.is(r.status, 200, `${p}: ${r.body}`);
  return JSON.parse(r.body) as T;
}

test.before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-inspect-"));
  const scripts = SCRIPTS.map((f) => parseScript(readFileSync(f, "utf8"), path.basename(f)));
  const accounts = new Map<string, { jid: string; password: string }>();
  for (const s of scripts) for (const a of accountsOf(s)) accounts.set(a.jid, a);
  ts = await startTestServer({ dataDir, accounts: [...accounts.values()] });
  for (const [i, s] of scripts.entries()) {
    const result = await runScript(s, { host: "127.0.0.1", port: ts.port, stepTimeoutMs: 5000 });
    assert.ok(result.ok, formatFailure(SCRIPTS[i] as string, result));
  }
  inspector = spawn(process.execPath, [PARLEY_BIN, "inspect", "--data", dataDir, "--port", "0", "--token", TOKEN], { stdio: ["ignore", "pipe", "pipe"] });
  let printed = "";
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parley inspect printed no address: ${printed}`)), 15_000);
    inspector?.stdout?.on("data", (d: Buffer) => {
      printed += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(printed);
      if (m) { clearTimeout(timer); assert.is(m[2], TOKEN); resolve(m[1] as string); }
    });
    inspector?.stderr?.on("data", (d: Buffer) => { printed += d.toString(); });
    inspector?.once("exit", (code) => { clearTimeout(timer); reject(new Error(`parley inspect exited (${code}): ${printed}`)); });
  });
});

test.after(async () => {
  inspector?.kill("SIGTERM");
  await ts?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("without the printed token nothing is shown; the token is traded for a cookie; other Host names are refused", async () => {
  assert.is((await get("/")).status, 401);
  assert.is((await get("/api/events")).status, 401);
  assert.is((await get("/?token=wrong-token-0123456789")).status, 401);
  const traded = await get(`/?token=${TOKEN}`);
  assert.is(traded.status, 303);
  assert.is(traded.headers.get("location"), "/");
  const cookie = (traded.headers.get("set-cookie") ?? "").split(";")[0] as string;
  assert.match(traded.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
  const page = await get("/", { Cookie: cookie });
  assert.is(page.status, 200);
  assert.match(page.body, /<script type="module" src="\/app.js">/);
  const script = await get("/app.js", { Cookie: cookie });
  assert.match(script.headers.get("content-type") ?? "", /javascript/);
  assert.match(script.body, /EventSource/);
  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 still names its own host.
  const rebound = await new Promise<number>((resolve, reject) => {
    const u = new URL(base);
    http.get({ host: u.hostname, port: u.port, path: "/api/summary", headers: { Host: "evil.example", ...AUTH } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on("error", reject);
  });
  assert.is(rebound, 421);
  assert.is((await fetch(base + "/api/events", { method: "POST", headers: AUTH })).status, 405);
});

interface Ev { seq: number; type: string; streamId: string; streamVersion: number; summary: string; cause: string; payload: unknown }

test("the timeline: newest first, paged without overlap, filtered by stream and type; SCRAM keys redacted", async () => {
  const summary = await getJson<{ lastSeq: number }>("/api/summary");
  const first = await getJson<{ events: Ev[]; next?: number }>("/api/events?limit=3");
  assert.is(first.events.length, 3);
  assert.is(first.events[0]?.seq, summary.lastSeq);
  assert.ok(first.events[0]!.seq > first.events[1]!.seq);
  assert.ok(first.next !== undefined);
  const second = await getJson<{ events: Ev[] }>(`/api/events?limit=3&cursor=${first.next}`);
  assert.ok(second.events.every((e) => e.seq < first.events[2]!.seq), "the second page continues below the first");
  const romeo = await getJson<{ events: Ev[] }>("/api/events?stream=account:romeo@localhost&type=SubscriptionGranted,ContactsBlocked&limit=100");
  assert.ok(romeo.events.length >= 1);
  assert.ok(romeo.events.every((e) => e.streamId === "account:romeo@localhost" && (e.type === "SubscriptionGranted" || e.type === "ContactsBlocked")));
  const granted = romeo.events.find((e) => e.type === "SubscriptionGranted");
  assert.match(granted?.summary ?? "", /juliet@localhost approved us/);
  assert.match(granted?.cause ?? "", /contact juliet@localhost/);
  const registered = await getJson<{ events: Ev[] }>("/api/events?type=AccountRegistered&limit=10");
  const creds = (registered.events[0]?.payload as { credentials: { storedKey: string; salt: string; hash: string }[] }).credentials;
  assert.ok(creds.length > 0);
  assert.ok(creds.every((c) => c.storedKey === "[redacted]" && c.salt === "[redacted]"));
  const streams = await getJson<{ id: string; version: number }[]>("/api/streams?prefix=account:");
  assert.ok(streams.some((s) => s.id === "account:romeo@localhost" && s.version > 5), JSON.stringify(streams));
  assert.equal(streams.map((s) => s.id), [...streams.map((s) => s.id)].sort());
});

test("bad questions get 400s that name the problem", async () => {
  const noJid = await get("/api/account", AUTH);
  assert.is(noJid.status, 400);
  assert.match(noJid.body, /'jid' parameter is required/);
  const nobody = await get("/api/account?jid=nobody@localhost", AUTH);
  assert.is(nobody.status, 400);
  assert.match(nobody.body, /no events for nobody@localhost/);
  const badPoint = await get("/api/account?jid=romeo@localhost&at=yesterday-ish", AUTH);
  assert.is(badPoint.status, 400);
  assert.match(badPoint.body, /neither an event sequence number nor a time/);
  assert.is((await get("/api/nothing-here", AUTH)).status, 404);
});

interface Contact { jid: string; subscription: string; appendixA: string; blocked: boolean }
interface View { version: number; latest: number; contacts: Contact[]; blocked: string[]; at?: Ev }

test("time travel: a version's roster and block list, what one step changed, and a contact's story on Appendix A", async () => {
  const now = await getJson<View>("/api/account?jid=romeo@localhost");
  assert.ok(now.latest > 5);
  assert.is(now.version, now.latest);
  const empty = await getJson<View>("/api/account?jid=romeo@localhost&version=0");
  assert.is(empty.version, 0);
  assert.equal(empty.contacts, []);
  const story = await getJson<{ steps: { pairState: string; sentence: string; event: Ev }[]; graph: { states: unknown[]; transitions: unknown[] } }>(
    "/api/story?jid=romeo@localhost&contact=juliet@localhost");
  assert.is(story.graph.states.length, 9);
  assert.ok(story.graph.transitions.length >= 60);
  assert.ok(story.steps.length >= 4);
  // The walk-through reaches Both before romeo unsubscribes.
  assert.ok(story.steps.some((s) => s.pairState === "both"), JSON.stringify(story.steps.map((s) => s.pairState)));
  for (const s of story.steps) assert.match(s.sentence, new RegExp(`event #${s.event.seq}\\b`));
  // Each step's state in the story is the state the account shows at that version.
  for (const s of story.steps) {
    const at = await getJson<View>(`/api/account?jid=romeo@localhost&version=${s.event.streamVersion}`);
    const juliet = at.contacts.find((c) => c.jid === "juliet@localhost");
    const words = s.sentence.replace(/^.*were then /, "").replace(/ \(.*$/, "");
    assert.is(juliet?.subscription ?? "not in the roster", words.replace(/ \(blocked\)$/, ""));
  }
  const blocks = await getJson<{ events: Ev[] }>("/api/events?stream=account:juliet@localhost&type=ContactsBlocked&order=asc&limit=1");
  const blockEvent = blocks.events[0];
  assert.ok(blockEvent, "juliet blocked romeo in the walk-through");
  const step = await getJson<{ event: Ev; blockedAdded: string[] }>(`/api/step?jid=juliet@localhost&version=${blockEvent.streamVersion}`);
  assert.is(step.event.seq, blockEvent.seq);
  assert.equal(step.blockedAdded, ["romeo@localhost"]);
  const unblocked = await getJson<{ blockedRemoved: string[] }>(`/api/step?jid=juliet@localhost&version=${blockEvent.streamVersion + 1}`);
  assert.equal(unblocked.blockedRemoved, ["romeo@localhost"]);
});

test("live: an event appended by the running server reaches an open live view", async () => {
  const before = (await getJson<{ lastSeq: number }>("/api/summary")).lastSeq;
  const received = new Promise<string>((resolve, reject) => {
    const u = new URL(base);
    const req = http.get({ host: u.hostname, port: u.port, path: `/api/live?after=${before}&stream=account:romeo@localhost`, headers: AUTH }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
        if (/event: event\ndata: .*"type":"ContactsBlocked"/.test(text)) { req.destroy(); resolve(text); }
      });
    });
    req.on("error", (e) => { if (!/socket hang up|aborted/.test(e.message)) reject(e); });
    setTimeout(() => { req.destroy(); reject(new Error("no live event within 10 s")); }, 10_000);
  });
  const romeo = await RawClient.connect(ts!.port);
  await romeo.login("romeo", "montague", "live");
  romeo.write("<iq type='set' id='live-block'><block xmlns='urn:xmpp:blocking'><item jid='rosaline@localhost'/></block></iq>");
  await romeo.waitFor(/id=['"]live-block['"]/);
  const text = await received;
  assert.match(text, /rosaline@localhost/);
  romeo.destroy();
});

/** `parley replay --until SEQ`'s roster, as contact → subscription words, and its block list. */
function replayed(seq: number): { contacts: Map<string, string>; blocked: string[] } {
  const r = parley(["replay", "--account", "romeo@localhost", "--until", String(seq), "--data", dataDir]);
  assert.is(r.status, 0, r.stderr);
  const contacts = new Map<string, string>();
  let blocked: string[] = [];
  for (const line of r.stdout.split("\n")) {
    const b = /^  blocked: (.*)$/.exec(line);
    if (b) { blocked = b[1] === "nobody" ? [] : (b[1] as string).split(", "); continue; }
    const m = /^  (\S+@\S+)\s+((?:none|to|from|both)(?: \+ (?:pending out|pending in|pre-approved))*)/.exec(line);
    if (m) contacts.set(m[1] as string, m[2] as string);
  }
  return { contacts, blocked };
}

test("in headless Chromium: step through romeo's history; every step shows what `parley replay --until` says", async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const failures: string[] = [];
    page.on("pageerror", (e) => failures.push(e.message));
    await page.goto(`${base}/?token=${TOKEN}`);
    await page.locator("#accounts button[data-jid='romeo@localhost']").click();
    await page.locator("#position").filter({ hasText: /^version \d+ of \d+$/ }).waitFor();
    const latest = Number(/of (\d+)/.exec(await page.locator("#position").innerText())?.[1]);
    assert.ok(latest > 5);
    await page.locator("#step-first").click();
    const events = await getJson<{ events: Ev[] }>("/api/events?stream=account:romeo@localhost&order=asc&limit=500");
    for (let v = 0; v <= latest; v++) {
      if (v > 0) await page.locator("#step-forward").click();
      await page.locator("#position").filter({ hasText: new RegExp(`^version ${v} of `) }).waitFor();
      const seq = v === 0 ? 0 : (events.events.find((e) => e.streamVersion === v)?.seq ?? -1);
      if (v > 0) await page.locator("#step strong").filter({ hasText: new RegExp(`^#${seq} `) }).waitFor();
      const expected = replayed(seq);
      const rows = await page.locator("#roster tbody tr[data-jid]").evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute("data-jid") ?? "", (tr.children[3]?.textContent ?? "").replace(/ \(request only.*$/, "")]));
      assert.equal(new Map(rows as [string, string][]), expected.contacts, `version ${v} (event #${seq})`);
      const blocked = (await page.locator("#blocked li").allInnerTexts()).filter((t) => t !== "nobody");
      assert.equal(blocked, expected.blocked, `block list at version ${v}`);
      await page.screenshot({ path: path.join(ARTIFACTS, `romeo-v${String(v).padStart(3, "0")}.png`) });
    }
    // The story of juliet, drawn on Appendix A with the path taken.
    await page.locator("#roster tbody tr[data-jid='juliet@localhost']").click();
    await page.locator("#story li").first().waitFor();
    assert.ok(await page.locator("svg#model .edge.taken").count() >= 1);
    assert.is(await page.locator("svg#model .state").count(), 9);
    assert.is(await page.locator("svg#model .state.current").count(), 1);
    await page.screenshot({ path: path.join(ARTIFACTS, "romeo-juliet-story.png"), fullPage: true });
    assert.equal(failures, [], "the page threw");
  } finally {
    await browser?.close();
  }
});

test("the CLI refuses bad options with a message naming them", () => {
  const port = parley(["inspect", "--data", dataDir, "--port", "eighty"]);
  assert.is(port.status, 2);
  assert.match(port.stderr, /--port must be a port number/);
  const token = parley(["inspect", "--data", dataDir, "--token", "short"]);
  assert.is(token.status, 2);
  assert.match(token.stderr, /--token must be at least 16 characters/);
  const missing = parley(["inspect", "--data", path.join(dataDir, "nowhere")]);
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /no Parley database at/);
});

test.run();
