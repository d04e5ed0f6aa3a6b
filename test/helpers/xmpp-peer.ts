// A logged-in client over a real socket that reads what it received as
// parsed stanzas, for tests that must tell which resource got which copy of
// a message (routing, carbons) and that nothing else arrived.
import { RawClient } from "./raw-client.js";
import { XmlStreamParser } from "../../src/xml/stream-parser.js";
import type { XmlElement } from "../../src/xml/element.js";

const WRAP_OPEN = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
let pings = 0;

/** Every complete stanza in `text`, a stream's content after the header. */
export function parseStanzas(text: string): XmlElement[] {
  const out: XmlElement[] = [];
  let failure: Error | undefined;
  const parser = new XmlStreamParser({
    streamStart() {},
    stanza(el) { out.push(el); },
    streamEnd() {},
    error(err) { failure = err; },
  }, { maxStanzaBytes: Number.MAX_SAFE_INTEGER, maxDepth: 1000 });
  parser.write(WRAP_OPEN + text);
  if (failure) throw new Error(`unparsable stream content (${failure.message}): ${text}`);
  return out;
}

export class Peer {
  private constructor(readonly raw: RawClient, readonly jid: string) {}

  static async login(port: number, user: string, password: string, resource: string): Promise<Peer> {
    const raw = await RawClient.connect(port);
    const jid = await raw.login(user, password, resource);
    return new Peer(raw, jid);
  }

  get resource(): string {
    return this.jid.slice(this.jid.indexOf("/") + 1);
  }

  write(xml: string): void {
    this.raw.write(xml);
  }

  /** Sends an IQ and waits for its answer, which it returns and removes from what was received. */
  async iq(xml: string, id: string): Promise<XmlElement> {
    this.write(xml);
    await this.raw.waitFor(new RegExp(`<iq[^>]*id=['"]${id}['"]`));
    const all = this.stanzas();
    const answer = all.find((s) => s.name === "iq" && s.attrs.id === id && (s.attrs.type === "result" || s.attrs.type === "error"));
    if (!answer) throw new Error(`no answer to ${id} in ${this.raw.text}`);
    return answer;
  }

  /** XEP-0280 §4. */
  async enableCarbons(): Promise<void> {
    const id = `carbons-on-${++pings}`;
    const reply = await this.iq(`<iq type='set' id='${id}'><enable xmlns='urn:xmpp:carbons:2'/></iq>`, id);
    if (reply.attrs.type !== "result") throw new Error(`enabling carbons failed for ${this.jid}: ${this.raw.text}`);
  }

  /** Available presence, waiting for the server's echo. */
  async available(priority?: number): Promise<void> {
    this.write(priority === undefined ? "<presence/>" : `<presence><priority>${priority}</priority></presence>`);
    await this.raw.waitFor(new RegExp(`<presence[^>]*from=['"]${this.jid.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}['"]`));
  }

  /** A ping to the server answered: everything this client sent before was processed. */
  async ping(): Promise<void> {
    const id = `sync-${++pings}`;
    this.write(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await this.raw.waitFor(new RegExp(`id=['"]${id}['"]`));
  }

  /** What arrived so far, without the answers to this helper's pings. */
  stanzas(): XmlElement[] {
    return parseStanzas(this.raw.text).filter((s) => !(s.name === "iq" && /^sync-/.test(s.attrs.id ?? "")));
  }

  /** The messages that arrived so far. */
  messages(): XmlElement[] {
    return this.stanzas().filter((s) => s.name === "message");
  }

  clear(): void {
    this.raw.clear();
  }

  close(): void {
    this.raw.destroy();
  }
}

/**
 * Two rounds of pings on every connection, as the scansion runner does: the
 * first proves every client's input was processed, the second that the
 * stanzas it caused have arrived.
 */
export async function barrier(peers: readonly Peer[]): Promise<void> {
  for (let round = 0; round < 2; round++) await Promise.all(peers.map((p) => p.ping()));
}
