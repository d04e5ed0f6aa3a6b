// Converse.js (the npm package's dist/), the web client many people use, in
// headless Chromium (Debian's, driven by playwright-core) against a real
// Parley: alice types her address and password into the login form, and
// Converse finds the WebSocket endpoint itself through XEP-0156 host-meta at
// https://parley.test/ (Chromium maps parley.test and upload.parley.test to
// Parley's HTTP listener, which speaks TLS with the certificate Parley made).
// She sees bob in her roster, chats with him (bob is a raw client over TCP)
// and sends him an image over XEP-0363, which Converse then shows.
// Nothing leaves loopback: every other request is refused and counted.
// Screenshots go to test-results/converse/.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { chromium, type Browser, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/test-server.js";
import { RawClient } from "../helpers/raw-client.js";
import { repoRoot } from "../helpers/paths.js";

const DOMAIN = "parley.test";
const UPLOAD_HOST = `upload.${DOMAIN}`;
const ALICE = { jid: `alice@${DOMAIN}`, password: "alice's long password" };
const BOB = { jid: `bob@${DOMAIN}`, password: "bob's long password" };
const CHROMIUM = "/usr/bin/chromium";
const CONVERSE_DIST = path.join(repoRoot(), "node_modules", "converse.js", "dist");
const ARTIFACTS = path.join(repoRoot(), "test-results", "converse");
const WAIT_MS = 15_000;
/** PARLEY_CONVERSE_CONSOLE=1 prints the browser's console, with Converse logging every stanza. */
const CONSOLE = process.env.PARLEY_CONVERSE_CONSOLE === "1";

let dataDir = "";
let ts: TestServer | undefined;
let pageServer: http.Server | undefined;
let pageOrigin = "";
let browser: Browser | undefined;
let page: Page | undefined;
let bob: RawClient | undefined;
const requested: string[] = [];
const refused: string[] = [];
const websockets: string[] = [];
let wsSent = "";
let loggedIn = false;
const pageErrors: string[] = [];
let shot = 0;

/** Waits until the browser's WebSocket frames, as Playwright reports them, include `pattern`. */
async function sentOverWebSocket(pattern: RegExp): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!pattern.test(wsSent)) {
    if (Date.now() > deadline) assert.unreachable(`not sent over the discovered WebSocket: ${pattern}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function screenshot(name: string): Promise<void> {
  await page?.screenshot({ path: path.join(ARTIFACTS, `${String(++shot).padStart(2, "0")}-${name}.png`) });
}

/** The index page of our own: Converse with no connection URL, so that it must discover one (XEP-0156). */
const INDEX = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Converse on Parley</title>
  <link rel="stylesheet" href="/converse.min.css">
</head>
<body class="converse-fullscreen">
<script type="module">
  // The package's dist is an ES module (its chunks load relative to it).
  import converse from "/converse.min.js";
  converse.initialize({
    assets_path: "/",
    view_mode: "fullscreen",
    discover_connection_methods: true,
    auto_login: false,
    auto_reconnect: false,
    allow_registration: false,
    i18n: "en",
    loglevel: "${CONSOLE ? "debug" : "info"}",
  });
</script>
</body>
</html>`;

const TYPES: Record<string, string> = {
  ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff": "font/woff", ".woff2": "font/woff2",
  ".ttf": "font/ttf", ".eot": "application/vnd.ms-fontobject", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".map": "application/json",
};

/** Serves INDEX at / and the package's dist/ beside it (libomemo looks for its wasm next to the page), on loopback. */
function startPageServer(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://page.invalid");
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(INDEX);
      return;
    }
    const file = path.resolve(CONVERSE_DIST, "." + decodeURIComponent(url.pathname));
    if (!file.startsWith(CONVERSE_DIST + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end(`no ${url.pathname} here`);
      return;
    }
    // Cached: libomemo fetches its wasm again for every key it makes.
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "max-age=3600" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** A PNG of `w`×`h` pixels in one colour (RGB, no filter), made here so the test needs no file. */
function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, no filter method, no interlace
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3).map((_, i) => rgb[i % 3] as number)]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** A raw client of parley.test over TCP: PLAIN login and bind. */
async function loginRaw(user: string, password: string, resource: string): Promise<{ client: RawClient; jid: string }> {
  const client = await RawClient.connect(ts!.port);
  const jid = await client.login(user, password, resource, { domain: DOMAIN });
  return { client, jid };
}

/** GET over https from Parley's listener, naming `host` as a browser would (SNI and Host); the test certificate is not verified. */
function httpsGet(url: string): Promise<{ status: number; type: string; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    https.get({ host: "127.0.0.1", port: ts!.server.httpPort, path: u.pathname + u.search, servername: u.hostname, headers: { host: u.host }, rejectUnauthorized: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body: Buffer.concat(parts) }));
    }).on("error", reject);
  });
}

// uvu reports a failing before hook only as tests not passed: say why.
test.before(async () => {
  try {
    await setup();
  } catch (err) {
    console.error("converse.test: setting up failed:", err);
    throw err;
  }
});

async function setup(): Promise<void> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  assert.ok(existsSync(path.join(CONVERSE_DIST, "converse.min.js")), `${CONVERSE_DIST} is missing: npm ci installs the converse.js devDependency`);
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-converse-"));
  const domains = (c: { domains: string[] }) => { c.domains = [DOMAIN]; };
  // A first start makes the self-signed certificate for parley.test; the second serves HTTPS with it.
  await (await startTestServer({ dataDir, configure: domains })).stop();
  ts = await startTestServer({
    dataDir,
    accounts: [ALICE, BOB],
    configure: (c) => {
      domains(c);
      c.tls.certFile = path.join(dataDir, "tls", `${DOMAIN}.crt`);
      c.tls.keyFile = path.join(dataDir, "tls", `${DOMAIN}.key`);
      c.upload.publicUrl = `https://${UPLOAD_HOST}`;
    },
  });

  // alice and bob are subscribed to each other (RFC 6121 §3) before alice opens Converse.
  const alice = await loginRaw("alice", ALICE.password, "setup");
  bob = (await loginRaw("bob", BOB.password, "desk")).client;
  // Both are interested resources (RFC 6121 §2.1.6): roster pushes and subscription requests reach them.
  for (const c of [alice.client, bob]) {
    c.write("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq><presence/>");
    await c.waitFor(/id=['"]roster['"]/);
  }
  alice.client.write(`<iq type='set' id='add-bob'><query xmlns='jabber:iq:roster'><item jid='${BOB.jid}' name='Bob'/></query></iq>`);
  await alice.client.waitFor(/id=['"]add-bob['"]/);
  alice.client.write(`<presence to='${BOB.jid}' type='subscribe'/>`);
  await bob.waitFor(/type=['"]subscribe['"]/);
  bob.write(`<presence to='${ALICE.jid}' type='subscribed'/><presence to='${ALICE.jid}' type='subscribe'/>`);
  await alice.client.waitFor(/<presence[^>]*type=['"]subscribe['"]/);
  alice.client.write(`<presence to='${BOB.jid}' type='subscribed'/>`);
  await alice.client.waitFor(/subscription=['"]both['"]/);
  alice.client.destroy();
  await bob.sync("bob-online");
  bob.clear();

  pageServer = await startPageServer();
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  const httpPort = ts.server.httpPort;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
      // https://parley.test/ and https://upload.parley.test/ reach Parley's HTTP listener; its certificate is self-signed.
      `--host-resolver-rules=MAP ${DOMAIN} 127.0.0.1:${httpPort}, MAP ${UPLOAD_HOST} 127.0.0.1:${httpPort}`,
      "--ignore-certificate-errors",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const allowed = new Set([new URL(pageOrigin).host, DOMAIN, UPLOAD_HOST]);
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    requested.push(`${route.request().method()} ${url}`);
    if (url.startsWith("data:") || url.startsWith("blob:") || allowed.has(new URL(url).host)) return route.continue();
    refused.push(url);
    return route.abort("blockedbyclient");
  });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  if (CONSOLE) page.on("console", (m) => console.log(`[browser ${m.type()}] ${m.text()}`));
  page.on("websocket", (ws) => {
    websockets.push(ws.url());
    ws.on("framesent", (f) => { wsSent += String(f.payload); });
  });
}

test.after(async () => {
  await browser?.close();
  bob?.destroy();
  await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
  await ts?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("alice logs in with the form; Converse finds the WebSocket through host-meta and shows bob in her roster", async () => {
  const p = page!;
  await p.goto(`${pageOrigin}/`);
  await p.locator("#converse-login-jid").waitFor({ timeout: WAIT_MS });
  await screenshot("login-form");
  await p.locator("#converse-login-jid").fill(ALICE.jid);
  await p.locator("#converse-login-password").fill(ALICE.password);
  await p.locator("converse-login-form button[type=submit]").click();
  const contact = p.locator(`converse-roster a.open-chat[data-jid='${BOB.jid}']`);
  try {
    await contact.waitFor({ timeout: WAIT_MS });
  } catch (err) {
    await screenshot("login-failed");
    const feedback = (await p.locator(".conn-feedback").allInnerTexts()).filter((t) => t.trim() !== "");
    // Converse asks for a connection URL when host-meta named no wss:// endpoint.
    const askedForUrl = (await p.locator("#converse-conn-url").count()) > 0;
    throw new Error(`no roster after logging in; Converse says: ${JSON.stringify(feedback)}${askedForUrl ? ", and asks for a connection URL" : ""}; requests: ${requested.filter((r) => !r.includes(pageOrigin)).join(", ")}`, { cause: err });
  }
  assert.match(await contact.innerText(), /Bob/);
  // bob is online: his presence reached Converse.
  await p.locator(`converse-roster li[data-status='online']:has(a.open-chat[data-jid='${BOB.jid}'])`).waitFor({ timeout: WAIT_MS });
  await screenshot("roster");
  assert.ok(requested.includes(`GET https://${DOMAIN}/.well-known/host-meta`), `host-meta was not fetched: ${requested.join("\n")}`);
  assert.equal(websockets, [`wss://${DOMAIN}/xmpp-websocket`], "Converse connected over the WebSocket that host-meta named");
  assert.match(wsSent, new RegExp(`<open [^>]*to="${DOMAIN}"`), "RFC 7395 §3.4: the stream opened over it");
  assert.ok(!requested.some((r) => r.includes("/http-bind")), "no BOSH");
  loggedIn = true;
});

test("alice writes to bob in Converse; bob receives it; bob's reply shows in alice's chat", async () => {
  assert.ok(loggedIn, "alice is not logged in: see the first test");
  const p = page!;
  await p.locator(`converse-roster a.open-chat[data-jid='${BOB.jid}']`).click();
  const chat = p.locator(`converse-chat[jid='${BOB.jid}']`);
  const textarea = chat.locator("textarea.chat-textarea");
  await textarea.waitFor({ timeout: WAIT_MS });
  await textarea.fill("Hello Bob, this is Converse on Parley");
  await textarea.press("Enter");
  const got = await bob!.waitFor(/<message[^>]*>[\s\S]*?<body>Hello Bob, this is Converse on Parley<\/body>[\s\S]*?<\/message>/, WAIT_MS);
  assert.match(got, new RegExp(`<message[^>]*from=['"]${ALICE.jid}/`), "from alice's full JID");
  // Playwright reports the browser's frames as events of their own, which may come after bob already has the message.
  await sentOverWebSocket(/<body>Hello Bob, this is Converse on Parley<\/body>/);
  await screenshot("sent");
  bob!.clear();
  bob!.write(`<message to='${ALICE.jid}' type='chat' id='reply-1'><body>Hi Alice, bob here over TCP</body></message>`);
  await chat.locator(".chat-msg__text", { hasText: "Hi Alice, bob here over TCP" }).waitFor({ timeout: WAIT_MS });
  await screenshot("reply");
});

test("alice uploads a PNG from Converse (XEP-0363): bob gets its URL, the same bytes come back, Converse shows the image", async () => {
  assert.ok(loggedIn, "alice is not logged in: see the first test");
  const p = page!;
  const image = png(48, 32, [200, 30, 90]);
  const chat = p.locator(`converse-chat[jid='${BOB.jid}']`);
  await chat.locator("input.fileupload").setInputFiles({ name: "balcony.png", mimeType: "image/png", buffer: image });
  const got = await bob!.waitFor(/<message[^>]*>[\s\S]*?<body>(https:\/\/[^<]+balcony\.png)<\/body>[\s\S]*?<\/message>/, WAIT_MS);
  const url = (/<body>(https:\/\/[^<]+balcony\.png)<\/body>/.exec(got) as RegExpExecArray)[1] as string;
  assert.ok(url.startsWith(`https://${UPLOAD_HOST}/upload/`), url);
  assert.match(got, new RegExp(`<x xmlns=['"]jabber:x:oob['"]><url>${url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}</url>`), "XEP-0066 out-of-band data names the same URL");
  const fetched = await httpsGet(url);
  assert.is(fetched.status, 200);
  assert.is(fetched.type, "image/png");
  assert.ok(fetched.body.equals(image), "the uploaded file comes back byte for byte");
  const img = chat.locator(`.chat-msg[data-from^='${ALICE.jid}/'] img.chat-image[src='${url}']`);
  await img.waitFor({ timeout: WAIT_MS });
  await p.waitForFunction((src) => {
    const el = [...document.querySelectorAll("img")].find((i) => i.getAttribute("src") === src);
    return el !== undefined && el.complete && el.naturalWidth > 0;
  }, url, { timeout: WAIT_MS });
  assert.is(await img.evaluate((el) => (el as HTMLImageElement).naturalWidth), 48);
  assert.ok(requested.includes(`PUT ${url}`) && requested.includes(`GET ${url}`), "the browser itself PUT the file to Parley and fetched it back");
  await screenshot("image");
});

test("nothing but the page server and Parley was needed: the only requests refused were the fullscreen footer's sponsor logos", () => {
  // Converse's fullscreen footer shows its sponsors' logos from conversejs.org; refused, they leave an empty box.
  assert.ok(refused.every((u) => u.startsWith("https://conversejs.org/media/logos/")), `refused: ${refused.join(", ")}`);
  assert.equal(pageErrors, [], "the page threw");
});

test.run();
