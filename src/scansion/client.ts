// A small XMPP client for the scansion runner: TCP, stream header, SASL
// (SCRAM-SHA-1 when offered, else PLAIN), stream restart, resource binding,
// optional legacy session; then a queue of received stanzas and a ping the
// runner uses as a barrier (its replies never reach the queue).
import net from "node:net";
import tls from "node:tls";
import { randomBytes, pbkdf2Sync } from "node:crypto";
import { XmlStreamParser } from "../xml/stream-parser.js";
import { el, type XmlElement } from "../xml/element.js";
import { serialize } from "../xml/serialize.js";
import { NS } from "../xmpp/namespaces.js";
import { hmac, digest, preparePassword } from "../sasl/credentials.js";

export class ClientError extends Error {
  constructor(readonly client: string, message: string) {
    super(`${client}: ${message}`);
    this.name = "ClientError";
  }
}

const BARRIER_PREFIX = "scansion-barrier-";

export class ScansionClient {
  private socket: net.Socket | undefined;
  private parser: XmlStreamParser;
  /** Everything received at the top level, before binding completes. */
  private raw: XmlElement[] = [];
  /** Stanzas for the script, in arrival order. */
  readonly queue: XmlElement[] = [];
  private waiters: (() => void)[] = [];
  private pendingPings = new Map<string, () => void>();
  private pingCounter = 0;
  private bound = false;
  closed = false;
  streamClosedByServer = false;
  fullJid: string | undefined;

  constructor(
    readonly name: string,
    private readonly jid: string,
    private readonly password: string,
    private readonly resource: string | undefined,
  ) {
    this.parser = this.makeParser();
  }

  private makeParser(): XmlStreamParser {
    return new XmlStreamParser({
      streamStart: () => {},
      stanza: (stanza) => this.receive(stanza),
      streamEnd: () => this.serverClosed(),
      error: (err) => { this.closed = true; this.queue.push(el("parse-error", "urn:scansion:client", {}, err.message)); this.wake(); },
    }, { maxStanzaBytes: 16 * 1024 * 1024, maxDepth: 1000 });
  }

  /** The server closed its stream: answer in kind; pings still waiting will never be answered. */
  private serverClosed(): void {
    this.streamClosedByServer = true;
    for (const done of this.pendingPings.values()) done();
    this.pendingPings.clear();
    this.socket?.end("</stream:stream>");
    this.wake();
  }

  private receive(stanza: XmlElement): void {
    const id = stanza.attrs.id;
    if (stanza.name === "iq" && id !== undefined && id.startsWith(BARRIER_PREFIX)) {
      const done = this.pendingPings.get(id);
      this.pendingPings.delete(id);
      done?.();
      return;
    }
    if (this.bound) this.queue.push(stanza);
    else this.raw.push(stanza);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (this.closed || this.streamClosedByServer) throw new ClientError(this.name, `connection closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new ClientError(this.name, `timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  private nextRaw(timeoutMs: number, what: string): Promise<XmlElement> {
    return this.waitUntil(() => this.raw.shift(), timeoutMs, what);
  }

  send(stanza: XmlElement | string): void {
    const text = typeof stanza === "string" ? stanza : serialize(stanza, NS.client);
    this.socket?.write(text);
  }

  private openStream(domain: string): void {
    this.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS.stream}' to='${domain}' version='1.0'>`);
  }

  private listen(socket: net.Socket): void {
    socket.on("data", (d: Buffer) => this.parser.write(d));
    socket.on("close", () => { this.closed = true; this.wake(); });
    socket.on("error", () => { this.closed = true; this.wake(); });
  }

  async connect(host: string, port: number, timeoutMs: number): Promise<string> {
    const domain = this.jid.slice(this.jid.indexOf("@") + 1);
    const user = this.jid.slice(0, this.jid.indexOf("@"));
    this.socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(s));
      s.once("error", (err) => reject(new ClientError(this.name, `cannot connect to ${host}:${port}: ${err.message}`)));
    });
    this.listen(this.socket);
    this.openStream(domain);
    let features = await this.nextRaw(timeoutMs, "stream features");
    // The README: STARTTLS only when the server requires it.
    if (features.getChild("starttls", NS.tls)?.getChild("required", NS.tls)) {
      this.send(el("starttls", NS.tls));
      const proceed = await this.nextRaw(timeoutMs, "the STARTTLS answer");
      if (proceed.name !== "proceed") throw new ClientError(this.name, `the server refused STARTTLS: <${proceed.name}>`);
      const plain = this.socket;
      plain.removeAllListeners("data");
      this.parser.reset();
      this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const secure = tls.connect({ socket: plain, servername: domain, rejectUnauthorized: false }, () => resolve(secure));
        secure.once("error", (err) => reject(new ClientError(this.name, `TLS failed: ${err.message}`)));
      });
      this.listen(this.socket);
      this.openStream(domain);
      features = await this.nextRaw(timeoutMs, "stream features after TLS");
    }
    const offered = features.getChild("mechanisms", NS.sasl)?.getChildren("mechanism").map((m) => m.text()) ?? [];
    if (offered.includes("SCRAM-SHA-1")) await this.scramSha1(user, timeoutMs);
    else if (offered.includes("PLAIN")) await this.plain(user, timeoutMs);
    else throw new ClientError(this.name, `no usable SASL mechanism among ${offered.join(", ") || "none"}`);
    this.parser.reset();
    this.openStream(domain);
    const post = await this.nextRaw(timeoutMs, "post-authentication features");
    const bindReq = el("iq", NS.client, { type: "set", id: "bind" },
      el("bind", NS.bind, {}, this.resource ? el("resource", NS.bind, {}, this.resource) : undefined));
    this.send(bindReq);
    const bindResult = await this.nextRaw(timeoutMs, "the bind result");
    const jid = bindResult.getChild("bind", NS.bind)?.getChildText("jid");
    if (bindResult.attrs.type !== "result" || !jid) throw new ClientError(this.name, `binding failed: ${serialize(bindResult, NS.client)}`);
    this.fullJid = jid;
    const session = post.getChild("session", NS.session);
    if (session && !session.getChild("optional", NS.session)) {
      this.send(el("iq", NS.client, { type: "set", id: "session" }, el("session", NS.session)));
      await this.nextRaw(timeoutMs, "the session result");
    }
    // Anything that arrived after the bind result belongs to the script.
    this.queue.push(...this.raw);
    this.raw = [];
    this.bound = true;
    return jid;
  }

  private async saslOutcome(timeoutMs: number): Promise<XmlElement> {
    const reply = await this.nextRaw(timeoutMs, "the SASL outcome");
    if (reply.name === "failure") {
      const condition = reply.firstElement()?.name ?? "unknown";
      throw new ClientError(this.name, `authentication failed: ${condition}`);
    }
    return reply;
  }

  private async plain(user: string, timeoutMs: number): Promise<void> {
    const payload = Buffer.from(`\0${user}\0${this.password}`).toString("base64");
    this.send(el("auth", NS.sasl, { mechanism: "PLAIN" }, payload));
    const reply = await this.saslOutcome(timeoutMs);
    if (reply.name !== "success") throw new ClientError(this.name, `unexpected SASL reply <${reply.name}>`);
  }

  /** RFC 5802 client side, with the server signature checked. */
  private async scramSha1(user: string, timeoutMs: number): Promise<void> {
    const cnonce = randomBytes(18).toString("base64");
    const clientFirstBare = `n=${user.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${cnonce}`;
    this.send(el("auth", NS.sasl, { mechanism: "SCRAM-SHA-1" }, Buffer.from(`n,,${clientFirstBare}`).toString("base64")));
    const challenge = await this.saslOutcome(timeoutMs);
    const serverFirst = Buffer.from(challenge.text(), "base64").toString("utf8");
    const attrs = new Map(serverFirst.split(",").map((kv) => [kv.slice(0, 1), kv.slice(2)] as [string, string]));
    const nonce = attrs.get("r") ?? "";
    if (!nonce.startsWith(cnonce)) throw new ClientError(this.name, "the server's SCRAM nonce does not extend ours");
    const salted = pbkdf2Sync(preparePassword(this.password), Buffer.from(attrs.get("s") ?? "", "base64"), Number(attrs.get("i")), 20, "sha1");
    const clientKey = hmac("SHA-1", salted, "Client Key");
    const storedKey = digest("SHA-1", clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac("SHA-1", storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number)));
    this.send(el("response", NS.sasl, {}, Buffer.from(`${withoutProof},p=${proof.toString("base64")}`).toString("base64")));
    const success = await this.saslOutcome(timeoutMs);
    const serverFinal = Buffer.from(success.text(), "base64").toString("utf8");
    const expected = hmac("SHA-1", hmac("SHA-1", salted, "Server Key"), authMessage).toString("base64");
    if (serverFinal !== `v=${expected}`) throw new ClientError(this.name, "the server's SCRAM signature is wrong");
  }

  /** XEP-0199 ping to the server; resolves when the reply arrives. */
  ping(domain: string, timeoutMs: number): Promise<void> {
    if (this.closed || this.streamClosedByServer || !this.socket) return Promise.resolve();
    const id = `${BARRIER_PREFIX}${++this.pingCounter}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingPings.delete(id);
        reject(new ClientError(this.name, "no reply to the barrier ping"));
      }, timeoutMs);
      this.pendingPings.set(id, () => { clearTimeout(timer); resolve(); });
      this.send(el("iq", NS.client, { type: "get", id, to: domain }, el("ping", NS.ping)));
    });
  }

  nextStanza(timeoutMs: number): Promise<XmlElement> {
    return this.waitUntil(() => this.queue.shift(), timeoutMs, "a stanza");
  }

  async close(timeoutMs: number): Promise<void> {
    if (!this.socket || this.closed) return;
    if (this.streamClosedByServer) {
      this.socket.destroy();
      this.closed = true;
      return;
    }
    this.send("</stream:stream>");
    try {
      await this.waitUntil(() => (this.streamClosedByServer || this.closed ? true : undefined), timeoutMs, "the server to close the stream");
    } catch {
      // The server did not answer the close in time; the socket goes anyway.
    }
    this.socket.destroy();
    this.closed = true;
  }

  destroy(): void {
    this.socket?.destroy();
    this.closed = true;
  }
}
