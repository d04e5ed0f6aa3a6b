// XEP-0352 Client State Indication on the server side: while the client says
// it is <inactive/>, what it need not see at once is held back (§1: "the
// server can … suppress or delay" traffic), as Prosody's mod_csi_simple does:
// presence updates (only the latest per contact), chat states alone, and
// other stanzas of no importance. Anything important (a message with a body,
// an IQ, a subscription request) flushes what was held, in order, then goes.
// https://xmpp.org/extensions/xep-0352.html
//
// It sits in the delivery sink before stream management (stream-management.ts),
// so a held stanza is not yet sent, and not yet counted.
import type { XmlElement } from "../xml/element.js";
import type { DeliverySink } from "./delivery-sink.js";

export const NS_CSI = "urn:xmpp:csi:0";
const CHATSTATES = "http://jabber.org/protocol/chatstates";
const NS_CLIENT = "jabber:client";

/** Can wait while the client is inactive: availability presence, chat states alone, bodiless messages of no consequence. */
export function isUnimportant(stanza: XmlElement): boolean {
  if (stanza.name === "presence") {
    const type = stanza.attrs.type;
    // Subscription stanzas and errors want an answer (RFC 6121 §3): they are important.
    return type === undefined || type === "unavailable";
  }
  if (stanza.name === "message") {
    if (stanza.attrs.type === "error") return false;
    // Only a chat state notification (XEP-0085) and nothing that carries content.
    const children = stanza.children.filter((c): c is XmlElement => typeof c !== "string");
    return children.length > 0 && children.every((c) => c.ns === CHATSTATES || (c.ns === NS_CLIENT && c.name === "thread"));
  }
  return false;
}

/** The sink of one session: passes everything while active; holds the unimportant while inactive. */
export class ClientStateFilter implements DeliverySink {
  /** Where stanzas go on: the stream (through stream management when it is enabled). */
  downstream: DeliverySink = { deliver: () => undefined };
  #inactive = false;
  /** Held stanzas in order; presence by "p " + sender so only the latest of a contact is kept. */
  readonly #held = new Map<string, XmlElement>();
  #seq = 0;

  constructor(private readonly maxHeld: number) {}

  get inactive(): boolean {
    return this.#inactive;
  }

  get held(): number {
    return this.#held.size;
  }

  deliver(stanza: XmlElement): void {
    if (!this.#inactive) return this.downstream.deliver(stanza);
    if (!isUnimportant(stanza)) {
      this.flush();
      return this.downstream.deliver(stanza);
    }
    const key = stanza.name === "presence" ? `p ${stanza.attrs.from ?? ""}` : `s ${this.#seq++}`;
    // The newer presence replaces the older and takes its place at the end (it is the newest news).
    this.#held.delete(key);
    this.#held.set(key, stanza);
    // Bounded: a full queue is written out rather than grown (limits: csi_max_queue).
    if (this.#held.size >= this.maxHeld) this.flush();
  }

  /** §5.2 <inactive/>. */
  setInactive(): void {
    this.#inactive = true;
  }

  /** §5.1 <active/>: what was held goes now. */
  setActive(): void {
    this.#inactive = false;
    this.flush();
  }

  /** Writes out what is held, in order. */
  flush(): void {
    if (this.#held.size === 0) return;
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const s of held) this.downstream.deliver(s);
  }
}
