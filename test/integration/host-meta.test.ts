// XEP-0156 §3: a web client that knows only the domain fetches
// /.well-known/host-meta (or .json), finds the WebSocket endpoint, and
// connects to it. Over real HTTP and a real WebSocket.
import { test } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
import https from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startTestServer } from "../helpers/test-server.js";

const REL_WS = "urn:xmpp:alt-connections:websocket";

test("host-meta (XRD) and host-meta.json name the WebSocket endpoint, with CORS; the endpoint answers", async () => {
  const ts = await startTestServer();
  try {
    const base = `http://127.0.0.1:${ts.server.httpPort}`;
    const xrd = await fetch(`${base}/.well-known/host-meta`, { headers: { origin: "https://web.example" } });
    assert.is(xrd.status, 200);
    assert.match(xrd.headers.get("content-type") ?? "", /^application\/xrd\+xml/);
    assert.is(xrd.headers.get("access-control-allow-origin"), "*", "§3.2: readable from a web client's origin");
    const body = await xrd.text();
    assert.match(body, /<XRD xmlns='http:\/\/docs\.oasis-open\.org\/ns\/xri\/xrd-1\.0'>/);
    const href = new RegExp(`<Link rel='${REL_WS}' href='([^']+)'/>`).exec(body)?.[1];
    assert.is(href, `ws://127.0.0.1:${ts.server.httpPort}/xmpp-websocket`);

    const json = await fetch(`${base}/.well-known/host-meta.json`);
    assert.match(json.headers.get("content-type") ?? "", /^application\/json/);
    assert.is(json.headers.get("access-control-allow-origin"), "*");
    const links = ((await json.json()) as { links: { rel: string; href: string }[] }).links;
    assert.equal(links.find((l) => l.rel === REL_WS)?.href, href);

    // The client follows the link: an XMPP stream opens there.
    const features = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(href as string, "xmpp");
      let got = "";
      ws.on("open", () => ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"));
      ws.on("message", (data) => {
        got += String(data);
        if (got.includes("</stream:features>")) { ws.close(); resolve(got); }
      });
      ws.on("error", reject);
    });
    assert.match(features, /mechanisms/);
    assert.is((await fetch(`${base}/.well-known/host-meta`, { method: "POST" })).status, 405);
  } finally {
    await ts.stop();
  }
});

test("behind a reverse proxy, host-meta names the configured public URL (https, wss)", async () => {
  const ts = await startTestServer({ configure: (c) => { c.http.publicUrl = "https://chat.example.org"; } });
  try {
    const body = await (await fetch(`http://127.0.0.1:${ts.server.httpPort}/.well-known/host-meta`)).text();
    assert.match(body, new RegExp(`<Link rel='${REL_WS}' href='wss://chat\\.example\\.org/xmpp-websocket'/>`));
  } finally {
    await ts.stop();
  }
});

function httpsGet(port: number, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // The certificate names localhost; the request goes to 127.0.0.1: not verified here.
    https.get({ host: "127.0.0.1", port, path: pathname, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

test("with a certificate configured, the HTTP port speaks TLS: host-meta over https names wss:// and https://", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "parley-https-"));
  try {
    // A first start generates a certificate into the data directory; the second is configured with it.
    await (await startTestServer({ dataDir })).stop();
    const ts = await startTestServer({
      dataDir,
      configure: (c) => { c.tls.certFile = path.join(dataDir, "tls", "localhost.crt"); c.tls.keyFile = path.join(dataDir, "tls", "localhost.key"); },
    });
    try {
      const port = ts.server.httpPort;
      const meta = await httpsGet(port, "/.well-known/host-meta");
      assert.is(meta.status, 200);
      assert.match(meta.body, new RegExp(`href='wss://127\\.0\\.0\\.1:${port}/xmpp-websocket'`));
      assert.match(meta.body, new RegExp(`href='https://127\\.0\\.0\\.1:${port}/http-bind'`));
      const plain = await fetch(`http://127.0.0.1:${port}/.well-known/host-meta`).then(() => "answered", () => "refused");
      assert.is(plain, "refused", "no plain HTTP on a TLS port");
    } finally {
      await ts.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
