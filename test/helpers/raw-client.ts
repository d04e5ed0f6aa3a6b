// A raw TCP peer for tests that must send what no real client would:
// malformed XML, oversized stanzas, stanzas out of order.
import net from "node:net";

export const HEADER = (to = "localhost") =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'>`;

export class RawClient {
  private received = "";
  private closed = false;
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => { this.received += d; this.wake(); });
    socket.on("close", () => { this.closed = true; this.wake(); });
    socket.on("error", () => { this.closed = true; this.wake(); });
  }

  /** A raw client over an already connected socket (e.g. a TLS socket). */
  static wrap(socket: net.Socket): RawClient {
    return new RawClient(socket);
  }

  /** The underlying socket, for STARTTLS. */
  get rawSocket(): net.Socket {
    return this.socket;
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  get text(): string {
    return this.received;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Waits until the received text matches, failing with what arrived after `ms`. */
  async waitFor(pattern: RegExp, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!pattern.test(this.received)) {
      if (this.closed) throw new Error(`connection closed before ${pattern}; received: ${this.received}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; received: ${this.received}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.received;
  }

  async waitClosed(ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${ms} ms; received: ${this.received}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /**
   * PLAIN login, stream restart and bind; returns the bound full JID.
   * `streamOpen`: the stream header was already sent and the features received;
   * `domain`: the server's domain the headers name (localhost).
   */
  async login(user: string, password: string, resource?: string, options: { streamOpen?: boolean; domain?: string } = {}): Promise<string> {
    const domain = options.domain ?? "localhost";
    if (!options.streamOpen) {
      this.clear();
      this.write(HEADER(domain));
      await this.waitFor(/<\/stream:features>/);
    }
    const plain = Buffer.from(`\0${user}\0${password}`).toString("base64");
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`);
    const outcome = await this.waitFor(/<success|<failure[\s\S]*<\/failure>/);
    if (!/<success/.test(outcome)) throw new Error(`authentication failed: ${outcome}`);
    this.received = "";
    this.write(HEADER(domain));
    await this.waitFor(/<\/stream:features>/);
    const res = resource ? `<resource>${resource}</resource>` : "";
    this.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${res}</bind></iq>`);
    const text = await this.waitFor(/<jid>([^<]+)<\/jid>/);
    this.received = "";
    return (/<jid>([^<]+)<\/jid>/.exec(text) as RegExpExecArray)[1] as string;
  }

  clear(): void {
    this.received = "";
  }

  /**
   * A ping round trip (XEP-0199): when its answer arrives, the server has
   * handled everything this client sent before it. Resolves with all received so far.
   */
  async sync(id: string, ms = 3000): Promise<string> {
    this.write(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    return this.waitFor(new RegExp(`id=['"]${id}['"]`), ms);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * A SCRAM-SHA-256 exchange (RFC 5802/7677) on a raw client whose stream is open; resolves on <success/>.
 * With `binding`, SCRAM-SHA-256-PLUS over that channel binding (type and data as the client sees them).
 */
export async function scramSha256(c: RawClient, user: string, password: string, binding?: { type: string; data: Buffer }): Promise<void> {
  const { randomBytes, pbkdf2Sync } = await import("node:crypto");
  const { hmac, digest, preparePassword } = await import("../../src/sasl/credentials.js");
  const cnonce = randomBytes(18).toString("base64");
  const first = `n=${user},r=${cnonce}`;
  const gs2 = binding ? `p=${binding.type},,` : "n,,";
  const mechanism = binding ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
  c.clear();
  c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${Buffer.from(`${gs2}${first}`).toString("base64")}</auth>`);
  const challengeText = await c.waitFor(/<challenge[^>]*>([^<]+)<\/challenge>/);
  const serverFirst = Buffer.from((/<challenge[^>]*>([^<]+)<\/challenge>/.exec(challengeText) as RegExpExecArray)[1] as string, "base64").toString();
  const fields = new Map(serverFirst.split(",").map((kv) => [kv[0] as string, kv.slice(2)]));
  const salted = pbkdf2Sync(preparePassword(password), Buffer.from(fields.get("s") ?? "", "base64"), Number(fields.get("i")), 32, "sha256");
  const clientKey = hmac("SHA-256", salted, "Client Key");
  const cbind = Buffer.concat([Buffer.from(gs2), binding?.data ?? Buffer.alloc(0)]).toString("base64");
  const withoutProof = `c=${cbind},r=${fields.get("r")}`;
  const authMessage = `${first},${serverFirst},${withoutProof}`;
  const signature = hmac("SHA-256", digest("SHA-256", clientKey), authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] as number))).toString("base64");
  c.clear();
  c.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${withoutProof},p=${proof}`).toString("base64")}</response>`);
  const done = await c.waitFor(/<success[^>]*>([^<]*)<\/success>|<failure/);
  const m = /<success[^>]*>([^<]*)<\/success>/.exec(done);
  if (!m) throw new Error(`SCRAM failed: ${done}`);
  const expected = hmac("SHA-256", hmac("SHA-256", salted, "Server Key"), authMessage).toString("base64");
  if (Buffer.from(m[1] as string, "base64").toString() !== `v=${expected}`) throw new Error("the server's SCRAM signature is wrong");
}
