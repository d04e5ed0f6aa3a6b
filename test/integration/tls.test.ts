// TLS: STARTTLS (RFC 6120 §5) on the c2s port, Direct TLS (XEP-0368) on its
// own port, the self-signed certificate made on first start, and
// --require-encryption refusing authentication before TLS, loopback included.
import { test } from "uvu";
import * as assert from "uvu/assert";
import tls from "node:tls";
import { existsSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { createHash } from "node:crypto";
import { RawClient, HEADER, scramSha256 } from "../helpers/raw-client.js";
import { startTestServer } from "../helpers/test-server.js";

const ACCOUNTS = [{ jid: "romeo@localhost", password: "s3cret" }];

function upgrade(c: RawClient): Promise<{ client: RawClient; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: c.rawSocket, servername: "localhost", rejectUnauthorized: false }, () =>
      resolve({ client: RawClient.wrap(socket), socket }));
    socket.once("error", reject);
  });
}

test("STARTTLS: offered on loopback (not required), proceed, handshake, then a new stream and login", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    assert.match(features, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
    c.clear();
    c.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await c.waitFor(/<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
    const { client, socket } = await upgrade(c);
    assert.ok(socket.encrypted);
    const cert = new X509Certificate(socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0));
    assert.is(cert.checkHost("localhost"), "localhost", "the generated certificate names the served domain");
    assert.ok(existsSync(path.join(ts.dataDir, "tls", "localhost.crt")));
    client.write(HEADER());
    const secured = await client.waitFor(/<\/stream:features>/);
    assert.not.match(secured, /starttls/, "no second STARTTLS on a secure stream");
    const jid = await client.login("romeo", "s3cret", "tls", { streamOpen: true });
    assert.is(jid, "romeo@localhost/tls");
    assert.is(ts.server.sessionState((/id='([^']+)'/.exec(secured) as RegExpExecArray)[1] as string), "bound");
    client.destroy();
  } finally {
    await ts.stop();
  }
});

test("Direct TLS: TLS from the first byte on its own port, ALPN xmpp-client", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"] }, () => resolve(s));
      s.once("error", reject);
    });
    assert.is(socket.alpnProtocol, "xmpp-client");
    const c = RawClient.wrap(socket);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    assert.not.match(features, /starttls/);
    assert.match(features, /SCRAM-SHA-256/);
    assert.is(await c.login("romeo", "s3cret", "direct", { streamOpen: true }), "romeo@localhost/direct");
    c.destroy();
  } finally {
    await ts.stop();
  }
});

test("with requireEncryption, loopback gets STARTTLS required, no mechanisms, and encryption-required for an early auth", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.tls.requireEncryption = true; } });
  try {
    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    assert.match(features, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
    assert.not.match(features, /<mechanisms/);
    c.clear();
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0romeo\0s3cret").toString("base64")}</auth>`);
    await c.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required\/><text xml:lang='en'>Authentication requires TLS/);
    c.clear();
    c.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await c.waitFor(/<proceed/);
    const { client } = await upgrade(c);
    client.write(HEADER());
    assert.match(await client.waitFor(/<\/stream:features>/), /<mechanism>SCRAM-SHA-1<\/mechanism>/);
    assert.is(await client.login("romeo", "s3cret", "safe", { streamOpen: true }), "romeo@localhost/safe");
    client.destroy();
  } finally {
    await ts.stop();
  }
});

test("STARTTLS on a stream that is already secure is refused with a TLS failure and the stream closed", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    const c = RawClient.wrap(socket);
    c.write(HEADER());
    await c.waitFor(/<\/stream:features>/);
    c.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await c.waitFor(/<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/><\/stream:stream>/);
    await c.waitClosed();
  } finally {
    await ts.stop();
  }
});

test("a TLS handshake that stops halfway ends the session without harming the server", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const c = await RawClient.connect(ts.port);
    c.write(HEADER());
    const features = await c.waitFor(/<\/stream:features>/);
    const id = (/id='([^']+)'/.exec(features) as RegExpExecArray)[1] as string;
    c.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await c.waitFor(/<proceed/);
    c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01])); // the start of a ClientHello, then nothing
    c.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.is(ts.server.sessionState(id), undefined, "the session is gone");
    const ok = await RawClient.connect(ts.port);
    assert.match(await ok.login("romeo", "s3cret"), /^romeo@localhost\//);
    ok.destroy();
  } finally {
    await ts.stop();
  }
});



async function directTls(port: number): Promise<{ c: RawClient; socket: tls.TLSSocket; features: string }> {
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false }, () => resolve(s));
    s.once("error", reject);
  });
  const c = RawClient.wrap(socket);
  c.write(HEADER());
  const features = await c.waitFor(/<\/stream:features>/);
  return { c, socket, features };
}

test("XEP-0440: on TLS, SCRAM-*-PLUS and the channel-binding types are offered; plain TCP offers neither", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const { c, features } = await directTls(ts.server.directTlsPort);
    assert.match(features, /<mechanism>SCRAM-SHA-256-PLUS<\/mechanism><mechanism>SCRAM-SHA-1-PLUS<\/mechanism><mechanism>SCRAM-SHA-256<\/mechanism>/);
    assert.match(features, /<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'\/><channel-binding type='tls-server-end-point'\/><\/sasl-channel-binding>/);
    c.destroy();
    const plain = await RawClient.connect(ts.port);
    plain.write(HEADER());
    const plainFeatures = await plain.waitFor(/<\/stream:features>/);
    assert.not.match(plainFeatures, /PLUS|sasl-channel-binding/);
    plain.destroy();
  } finally {
    await ts.stop();
  }
});

test("SCRAM-SHA-256-PLUS with tls-exporter and with tls-server-end-point logs in; wrong binding data is refused", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS });
  try {
    const a = await directTls(ts.server.directTlsPort);
    const exporter = a.socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
    await scramSha256(a.c, "romeo", "s3cret", { type: "tls-exporter", data: exporter });
    a.c.destroy();

    const b = await directTls(ts.server.directTlsPort);
    const endPoint = createHash("sha256").update(b.socket.getPeerCertificate().raw).digest();
    await scramSha256(b.c, "romeo", "s3cret", { type: "tls-server-end-point", data: endPoint });
    b.c.destroy();

    // A man in the middle would have different binding data: refused even with the right password.
    const m = await directTls(ts.server.directTlsPort);
    let refused = "";
    try {
      await scramSha256(m.c, "romeo", "s3cret", { type: "tls-exporter", data: Buffer.alloc(32, 7) });
    } catch (err) {
      refused = (err as Error).message;
    }
    assert.match(refused, /not-authorized/);
    m.c.destroy();

    // A client that could bind but says it cannot ("y") while we offer -PLUS: a downgrade.
    const d = await directTls(ts.server.directTlsPort);
    d.c.clear();
    d.c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from("y,,n=romeo,r=abcdefghijkl").toString("base64")}</auth>`);
    await d.c.waitFor(/<not-authorized\/>/);
    d.c.destroy();
  } finally {
    await ts.stop();
  }
});

test("the scansion runner negotiates STARTTLS when the server requires it", async () => {
  const { parseScript } = await import("../../src/scansion/script.js");
  const { runScript, formatFailure } = await import("../../src/scansion/runner.js");
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.tls.requireEncryption = true; } });
  try {
    const script = parseScript(`[Client] Romeo
	jid: romeo@localhost
	password: s3cret
---
Romeo connects
Romeo sends:
	<presence/>
Romeo receives:
	<presence/>
Romeo disconnects
`, "tls.scs");
    const result = await runScript(script, { host: "127.0.0.1", port: ts.port });
    assert.ok(result.ok, formatFailure("tls.scs", result));
  } finally {
    await ts.stop();
  }
});
test("idle Direct TLS connections beyond connections_per_address are refused; the count spans every listener", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.connectionsPerAddress = 3; } });
  try {
    // TCP only, no ClientHello: each holds a descriptor all the same.
    const idle = await Promise.all([1, 2, 3].map(() => RawClient.connect(ts.server.directTlsPort)));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await RawClient.connect(ts.server.directTlsPort);
    await extra.waitClosed(2000);
    const plain = await RawClient.connect(ts.port);
    await plain.waitFor(/<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/);
    await plain.waitClosed();
    const web = await RawClient.connect(ts.server.httpPort);
    await web.waitFor(/^HTTP\/1.1 503 /);
    await web.waitClosed();
    assert.ok(idle.every((c) => !c.isClosed), "the three within the cap stay open");
    // One goes: a real Direct TLS login fits again.
    idle[0]?.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const { c } = await directTls(ts.server.directTlsPort);
    assert.is(await c.login("romeo", "s3cret", "fits", { streamOpen: true }), "romeo@localhost/fits");
    for (const x of [...idle, c]) x.destroy();
  } finally {
    await ts.stop();
  }
});

test("a TLS handshake that does not finish within handshake_timeout_seconds is cut off: Direct TLS, idle or half sent, and after STARTTLS", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.handshakeTimeoutSeconds = 1; } });
  try {
    const started = Date.now();
    const silent = await RawClient.connect(ts.server.directTlsPort);
    const half = await RawClient.connect(ts.server.directTlsPort);
    half.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01])); // the start of a ClientHello, then nothing
    const starttls = await RawClient.connect(ts.port);
    starttls.write(HEADER());
    await starttls.waitFor(/<\/stream:features>/);
    starttls.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await starttls.waitFor(/<proceed/);
    // The unauthenticated timeout (60 s by default) would close them too, much later.
    await Promise.all([silent.waitClosed(4000), half.waitClosed(4000), starttls.waitClosed(4000)]);
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms, not before the timeout`);
    const ok = await directTls(ts.server.directTlsPort);
    assert.is(await ok.c.login("romeo", "s3cret", "after", { streamOpen: true }), "romeo@localhost/after");
    ok.c.destroy();
  } finally {
    await ts.stop();
  }
});

test("a Direct TLS socket that finished its handshake but never opens a stream is closed after the unauthenticated timeout", async () => {
  const ts = await startTestServer({ accounts: ACCOUNTS, configure: (c) => { c.limits.unauthenticatedTimeoutSeconds = 1; } });
  try {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ port: ts.server.directTlsPort, host: "127.0.0.1", rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    const c = RawClient.wrap(socket);
    await c.waitClosed(4000);
  } finally {
    await ts.stop();
  }
});

test.run();
