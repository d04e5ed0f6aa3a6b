// XEP-0198 Stream Management on the server side: what one managed stream
// counts and keeps, and where resumable streams are found by their id.
// https://xmpp.org/extensions/xep-0198.html
//
// The session machine owns the protocol (which nonza in which state); this
// file owns the numbers. Every stanza written to a bound stream passes the
// delivery sink (delivery-sink.ts), so a managed stream counts there: the
// sink numbers each stanza (§4: "h" is the number of stanzas handled, modulo
// 2^32) and keeps it until the client's <a h='…'/> says it arrived. While the
// connection is gone (`detached`) the same sink keeps counting and queueing,
// and after <resume/> the queue is written again, in order, on the new one.
import { randomBytes } from "node:crypto";
import { el, type XmlElement } from "../xml/element.js";
import type { Jid } from "../jid/jid.js";
import type { DeliveryOutlet, DeliverySink } from "./delivery-sink.js";
import type { SessionCommand } from "./session-types.js";

export const NS_SM = "urn:xmpp:sm:3";
const H_MODULO = 2 ** 32;

/** Where a session's commands go: the session actor that currently speaks for the stream (it changes on resumption). */
export interface SessionLink {
  actor: { send(command: SessionCommand): void };
}

/** §4 "h" arithmetic, modulo 2^32. */
export function addH(h: number, n: number): number {
  return (h + n) % H_MODULO;
}

/** Parses an `h` attribute: an unsigned 32-bit integer, or undefined. */
export function parseH(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n < H_MODULO ? n : undefined;
}

export type AckOutcome = { ok: true; acknowledged: number } | { ok: false; sent: number };

/** One managed stream (and, if resumable, what survives its connection). */
export class ManagedStream {
  /** Stanzas received from the client and handled (the h we report). */
  inbound = 0;
  /** Stanzas sent to the client, numbered from 1 (mod 2^32). */
  outbound = 0;
  /** Sent and not yet acknowledged, oldest first: numbers outbound − length + 1 … outbound. */
  readonly unacked: XmlElement[] = [];
  /** An <r/> of ours is outstanding: the next is sent after the client's <a/>. */
  ackRequested = false;

  constructor(
    /** The SM-ID (§5: an opaque, unguessable identifier) when resumable. */
    readonly id: string | undefined,
    readonly jid: Jid,
    /** The id the account actor knows this stream's session by (the first session's). */
    readonly sessionId: string,
    readonly outlet: DeliveryOutlet,
    readonly link: SessionLink,
    /** Seconds the stream stays resumable after its connection is lost. */
    readonly timeoutSeconds: number,
    private readonly maxQueue: number,
  ) {}

  get resumable(): boolean {
    return this.id !== undefined;
  }

  /**
   * The sink of this stream: each stanza is numbered and kept, then written
   * (`write`, with an <r/> when none is outstanding) or, with no connection,
   * only kept. Past maxQueue, `overflow` is called once and the stanza is kept
   * anyway: the caller ends the stream, and what it kept is not lost.
   */
  sink(write: ((stanza: XmlElement) => void) | undefined, overflow: () => void): DeliverySink {
    let overflowed = false;
    return {
      deliver: (stanza) => {
        this.outbound = addH(this.outbound, 1);
        this.unacked.push(stanza);
        if (write) {
          write(stanza);
          if (!this.ackRequested) {
            this.ackRequested = true;
            write(el("r", NS_SM));
          }
        }
        if (this.unacked.length > this.maxQueue && !overflowed) {
          overflowed = true;
          overflow();
        }
      },
    };
  }

  /** How many kept stanzas an h acknowledges (the h the client had before the oldest kept stanza is `first`). */
  #acknowledgedBy(h: number): number {
    const first = addH(this.outbound, H_MODULO - this.unacked.length);
    return (h - first + H_MODULO) % H_MODULO;
  }

  /** Whether h counts no more stanzas than were sent (§4: more is an error). */
  wouldAcknowledge(h: number): boolean {
    return this.#acknowledgedBy(h) <= this.unacked.length;
  }

  /** The client's h (from <a/> or <resume/>): forget what it acknowledges. */
  acknowledge(h: number): AckOutcome {
    const count = this.#acknowledgedBy(h);
    if (count > this.unacked.length) return { ok: false, sent: this.outbound };
    this.unacked.splice(0, count);
    this.ackRequested = false;
    return { ok: true, acknowledged: count };
  }

  /** Takes what was never acknowledged (the stream is over). */
  drain(): XmlElement[] {
    return this.unacked.splice(0, this.unacked.length);
  }
}

/** Resumable streams by SM-ID, for <resume previd='…'/>. */
export class ManagedStreamRegistry {
  readonly #streams = new Map<string, ManagedStream>();

  static newId(): string {
    return randomBytes(18).toString("base64url");
  }

  add(stream: ManagedStream): void {
    if (stream.id !== undefined) this.#streams.set(stream.id, stream);
  }

  /** The stream `previd` names if it is the user's own and still resumable (XEP-0198 §5: else item-not-found). */
  find(previd: string, user: Jid): ManagedStream | undefined {
    const s = this.#streams.get(previd);
    return s && s.jid.bareString() === user.bareString() ? s : undefined;
  }

  remove(stream: ManagedStream): void {
    if (stream.id !== undefined && this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
  }

  get size(): number {
    return this.#streams.size;
  }
}
