// Two Parley servers federated with each other for the s2s tests: a.test
// (alice) and b.test (bob), each with its own data directory, certificate and
// dialback secret, routed to each other through [s2s.routes]; and a user
// logged in over a raw c2s socket whose stanzas a test reads.
import type { ServerConfig } from "../../src/config.js";
import type { XmlElement } from "../../src/xml/element.js";
import { startTestServer, type TestServer } from "./test-server.js";
import { RawClient } from "./raw-client.js";
import { parseStanzas } from "./xmpp-peer.js";

export const PASSWORD = "secret-password";
const header = (domain: string) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;

export class User {
  private constructor(readonly raw: RawClient, readonly jid: string) {}

  static async login(port: number, user: string, domain: string, resource: string): Promise<User> {
    const raw = await RawClient.connect(port);
    raw.write(header(domain));
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${PASSWORD}`).toString("base64")}</auth>`);
    const outcome = await raw.waitFor(/<success|<failure/);
    if (!/<success/.test(outcome)) throw new Error(`login failed: ${outcome}`);
    raw.clear();
    raw.write(header(domain));
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const text = await raw.waitFor(/<jid>([^<]+)<\/jid>/);
    raw.clear();
    return new User(raw, (/<jid>([^<]+)<\/jid>/.exec(text) as RegExpExecArray)[1] as string);
  }

  write(xml: string): void {
    this.raw.write(xml);
  }

  stanzas(): XmlElement[] {
    // Prosody's stream header carries the content namespace; what follows parses the same way.
    return parseStanzas(this.raw.text.replace(/^<\?xml[^>]*>\s*<stream:stream[^>]*>/, ""));
  }

  /** Waits for a stanza matching `pick`, within `ms`; `what` names it in the error. */
  async waitFor(pick: (s: XmlElement) => boolean, ms = 8000, what = "nothing matching"): Promise<XmlElement> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.stanzas().find(pick);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`${this.jid}: ${what} within ${ms} ms; received: ${this.raw.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.raw.destroy();
  }
}

export async function twoServers(also: (c: ServerConfig) => void = () => {}): Promise<{ a: TestServer; b: TestServer; stop(): Promise<void> }> {
  const configure = (domain: string) => (c: ServerConfig) => {
    c.domains = [domain];
    c.s2s.connectTimeoutSeconds = 3;
    also(c);
  };
  const a = await startTestServer({ accounts: [{ jid: "alice@a.test", password: PASSWORD }], configure: configure("a.test") });
  const b = await startTestServer({ accounts: [{ jid: "bob@b.test", password: PASSWORD }], configure: configure("b.test") });
  const aPort = a.server.s2s?.port as number;
  const bPort = b.server.s2s?.port as number;
  a.server.config.s2s.routes["b.test"] = `127.0.0.1:${bPort}`;
  b.server.config.s2s.routes["a.test"] = `127.0.0.1:${aPort}`;
  return { a, b, async stop() { await a.stop(); await b.stop(); } };
}

