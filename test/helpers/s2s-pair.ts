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

export class User {
  private constructor(readonly raw: RawClient, readonly jid: string) {}

  static async login(port: number, user: string, domain: string, resource: string): Promise<User> {
    const raw = await RawClient.connect(port);
    return new User(raw, await raw.login(user, PASSWORD, resource, { domain }));
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

/** Alice on a.test and Bob on b.test logged in, Bob available (so a chat message to his bare JID is delivered, RFC 6121 §8.5.2.1.1). */
export async function aliceAndAvailableBob(a: TestServer, b: TestServer): Promise<{ alice: User; bob: User }> {
  const alice = await User.login(a.port, "alice", "a.test", "home");
  const bob = await User.login(b.port, "bob", "b.test", "work");
  bob.write("<presence/>");
  await bob.waitFor((s) => s.name === "presence" && s.attrs.from === "bob@b.test/work");
  return { alice, bob };
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

