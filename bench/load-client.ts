// A lean XMPP client for load generation: a raw TCP socket and a scanner that
// cuts the server's stream into top-level stanzas by tracking element depth,
// without building a tree. It must cost far less than the server it measures.
import net from "node:net";

export const STREAM_HEADER = (domain: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;

export type StanzaHandler = (stanza: string, name: string) => void;

interface Waiter {
  match: (stanza: string, name: string) => boolean;
  resolve: (stanza: string) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class LoadClient {
  /** Every complete top-level element after the stream header. */
  onStanza: StanzaHandler | undefined;
  jid = "";
  private buffer = "";
  private depth = 0;
  private stanzaStart = -1;
  private waiters: Waiter[] = [];
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;

  private constructor(private readonly socket: net.Socket, private readonly domain: string) {
    socket.setNoDelay(true);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.scan(chunk));
    this.closedPromise = new Promise((resolve) => socket.once("close", () => {
      this.closedFlag = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed while waiting; last data: ${this.buffer.slice(-300)}`));
      }
      resolve();
    }));
    socket.on("error", () => {});
  }

  static connect(port: number, domain = "localhost", host = "127.0.0.1"): Promise<LoadClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once("connect", () => resolve(new LoadClient(socket, domain)));
      socket.once("error", (err) => reject(new Error(`connecting to ${host}:${port}: ${err.message}`)));
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  send(xml: string): void {
    if (!this.closedFlag) this.socket.write(xml);
  }

  /** Resolves with the next stanza that matches; stanzas that do not are still handed to onStanza. */
  waitFor(match: (stanza: string, name: string) => boolean, ms = 30_000, what = "a stanza"): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; last data: ${this.buffer.slice(-300)}`));
      }, ms);
      this.waiters.push({ match, resolve, reject, timer });
    });
  }

  /** SASL PLAIN, resource binding and (unless `presence` is false) initial presence, answered by its own echo. */
  async login(user: string, password: string, resource: string, options: { presence?: boolean } = {}): Promise<string> {
    const features = this.waitFor((_, n) => n === "stream:features", 30_000, "stream features");
    this.send(STREAM_HEADER(this.domain));
    await features;
    const outcome = this.waitFor((_, n) => n === "success" || n === "failure", 30_000, "the SASL outcome");
    const initial = Buffer.from(`\0${user}\0${password}`).toString("base64");
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${initial}</auth>`);
    const result = await outcome;
    if (!result.startsWith("<success")) throw new Error(`login of ${user} failed: ${result}`);
    const again = this.waitFor((_, n) => n === "stream:features", 30_000, "post-auth features");
    this.send(STREAM_HEADER(this.domain));
    await again;
    const bound = this.waitFor((s, n) => n === "iq" && hasId(s, "bind"), 30_000, "the bind result");
    this.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const bind = await bound;
    const jid = /<jid>([^<]+)<\/jid>/.exec(bind);
    if (!jid?.[1]) throw new Error(`bind of ${user} failed: ${bind}`);
    this.jid = jid[1];
    if (options.presence !== false) {
      const self = this.jid;
      const echo = this.waitFor((s, n) => n === "presence" && (s.includes(`from='${self}'`) || s.includes(`from="${self}"`)), 30_000, "the initial presence echo");
      this.send("<presence/>");
      await echo;
    }
    return this.jid;
  }

  /** An IQ round trip to the server, as a barrier after a burst. */
  async ping(id: string): Promise<void> {
    const pong = this.waitFor((s, n) => n === "iq" && hasId(s, id), 60_000, `the ping ${id}`);
    this.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await pong;
  }

  async close(): Promise<void> {
    if (!this.closedFlag) {
      this.send("</stream:stream>");
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 2000);
      await this.closedPromise;
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** XEP-0198 §4: stanzas handled since <enabled/>, when stream management is on. */
  private smHandled: number | undefined;

  /** Enables stream management (XEP-0198, no resumption): from here on, the server's <r/> is answered. */
  async enableStreamManagement(): Promise<void> {
    const enabled = this.waitFor((_, n) => n === "enabled" || n === "failed", 30_000, "<enabled/>");
    this.send("<enable xmlns='urn:xmpp:sm:3'/>");
    const reply = await enabled;
    if (!reply.startsWith("<enabled")) throw new Error(`stream management refused: ${reply}`);
    this.smHandled = 0;
  }

  private deliver(stanza: string): void {
    const name = elementName(stanza, 1);
    if (this.smHandled !== undefined) {
      if (name === "message" || name === "presence" || name === "iq") this.smHandled = (this.smHandled + 1) % 2 ** 32;
      else if (name === "r") this.send(`<a xmlns='urn:xmpp:sm:3' h='${this.smHandled}'/>`);
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i] as Waiter;
      if (w.match(stanza, name)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(stanza);
        break;
      }
    }
    this.onStanza?.(stanza, name);
  }

  /**
   * Cuts complete depth-1 elements out of the buffer. Servers escape '<' in
   * text and attribute values, so every '<' opens a tag; a quoted '>' inside a
   * tag is skipped.
   */
  private scan(chunk: string): void {
    let buf = this.buffer + chunk;
    let pos = this.stanzaStart >= 0 ? this.stanzaStart : 0;
    // Rescan an unfinished stanza from its start, at its own depth.
    if (this.stanzaStart >= 0) this.depth = 1;
    this.stanzaStart = -1;
    for (;;) {
      const open = buf.indexOf("<", pos);
      if (open < 0) { pos = buf.length; break; }
      const close = tagEnd(buf, open);
      if (close < 0) { pos = open; break; }
      const second = buf.charCodeAt(open + 1);
      if (second === 63 /* ? */) { pos = close + 1; continue; }
      if (second === 47 /* / */) {
        this.depth--;
        if (this.depth === 1 && this.stanzaStart >= 0) {
          this.deliver(buf.slice(this.stanzaStart, close + 1));
          this.stanzaStart = -1;
        } else if (this.depth <= 0) {
          this.depth = 0; // </stream:stream>
        }
        pos = close + 1;
        continue;
      }
      if (buf.startsWith("<stream:stream", open)) {
        this.depth = 1; // a new stream (after SASL) restarts the count
        pos = close + 1;
        continue;
      }
      const selfClosing = buf.charCodeAt(close - 1) === 47;
      if (this.depth === 1) {
        if (selfClosing) {
          this.deliver(buf.slice(open, close + 1));
        } else {
          this.stanzaStart = open;
          this.depth = 2;
        }
      } else if (!selfClosing) {
        this.depth++;
      }
      pos = close + 1;
    }
    // Keep only what is still needed: an unfinished stanza, or an unfinished tag.
    const keepFrom = this.stanzaStart >= 0 ? this.stanzaStart : pos;
    buf = buf.slice(keepFrom);
    if (this.stanzaStart >= 0) this.stanzaStart = 0;
    this.buffer = buf;
    if (this.stanzaStart >= 0) this.depth = 1;
  }
}

/** Whether a stanza carries this id (servers differ in their quote style). */
export function hasId(stanza: string, id: string): boolean {
  return stanza.includes(`id='${id}'`) || stanza.includes(`id="${id}"`);
}

function tagEnd(buf: string, open: number): number {
  let quote = 0;
  for (let i = open + 1; i < buf.length; i++) {
    const c = buf.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 39 || c === 34) {
      quote = c;
    } else if (c === 62) {
      return i;
    }
  }
  return -1;
}

/** The qualified name of the element whose tag starts at `from - 1`. */
function elementName(stanza: string, from: number): string {
  let end = from;
  while (end < stanza.length) {
    const c = stanza.charCodeAt(end);
    if (c === 32 || c === 62 || c === 47 || c === 9 || c === 10 || c === 13) break;
    end++;
  }
  return stanza.slice(from, end);
}
