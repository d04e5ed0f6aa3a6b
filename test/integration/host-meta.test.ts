// XEP-0156 §3: a web client that knows only the domain fetches
// /.well-known/host-meta (or .json), finds the WebSocket endpoint, and
// connects to it. Over real HTTP and a real WebSocket.
import { test } from "uvu";
import * as assert from "uvu/assert";
import WebSocket from "ws";
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

test.run();
