// Bounded turns: what a stream's parser produces reaches the session at most
// `perTurn` stanzas per event-loop turn. A client that pipelines hundreds of
// stanzas in one TCP segment (or one WebSocket read) would otherwise have them
// all decided in one turn, so all of their results would wait for that turn's
// one commit (commit-gate.ts), and every other connection would wait for the
// whole batch. Past the budget, the rest of the parsed input waits here, in
// order, with the transport's reads paused (so at most about one read's worth
// is ever buffered), and continues on a later turn (setImmediate: after the
// commit of this turn has been started, and after other sockets were polled).
import type { StreamError, StreamListener, StreamStartInfo } from "../xml/stream-parser.js";
import type { XmlElement } from "../xml/element.js";

type Input =
  | { kind: "start"; attrs: Record<string, string>; info: StreamStartInfo }
  | { kind: "stanza"; el: XmlElement; size: number }
  | { kind: "end" }
  | { kind: "error"; err: StreamError }
  | { kind: "keepalive" }
  | { kind: "call"; fn: () => void };

/** Where the pacer pauses and resumes the transport's reads (a ReadSwitch's "backlog" reason). */
export interface BacklogReads {
  hold(): void;
  release(): void;
}

// One counter for the whole process, advanced once per loop iteration in which
// anyone asked: a connection's budget is per turn, not per read (one turn may
// deliver several reads of the same socket).
let clock = 0;
let ticking = false;
const tick = (): void => {
  ticking = false;
  clock++;
};
function currentTurn(): number {
  if (!ticking) {
    ticking = true;
    setImmediate(tick);
  }
  return clock;
}

export class StanzaPacer implements StreamListener {
  private readonly backlog: Input[] = [];
  private turn = -1;
  private used = 0;
  private armed = false;
  private stopped = false;

  constructor(
    private readonly session: StreamListener,
    private readonly perTurn: number,
    private readonly reads: BacklogReads,
  ) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new Error(`stanzas per turn must be a positive whole number, not ${perTurn}`);
  }

  streamStart(attrs: Record<string, string>, info: StreamStartInfo): void {
    this.take({ kind: "start", attrs, info });
  }

  stanza(el: XmlElement, size: number): void {
    this.take({ kind: "stanza", el, size });
  }

  streamEnd(): void {
    this.take({ kind: "end" });
  }

  error(err: StreamError): void {
    this.take({ kind: "error", err });
  }

  keepalive(): void {
    this.take({ kind: "keepalive" });
  }

  /**
   * Runs `fn` once everything parsed before it has been handed over: the
   * transport's close must not overtake stanzas the client sent before it.
   */
  then(fn: () => void): void {
    if (this.stopped) fn();
    else this.take({ kind: "call", fn });
  }

  /** Parsed input not yet handed over: waiting for a later turn. */
  get pending(): number {
    return this.backlog.length;
  }

  /**
   * Drops what was parsed but not handed over. On a stream restart (SASL
   * success, STARTTLS: RFC 6120 §5.4.3.3, §6.4.6) whatever followed in the same
   * read belongs to the old stream, and after STARTTLS it is exactly the
   * plaintext an attacker would inject ahead of the handshake.
   */
  clear(): void {
    if (this.backlog.length === 0) return;
    const calls = this.backlog.filter((i): i is Extract<Input, { kind: "call" }> => i.kind === "call");
    this.backlog.length = 0;
    this.reads.release();
    for (const c of calls) c.fn();
  }

  /** The transport is closing: nothing more is handed over. */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private take(input: Input): void {
    if (this.stopped) return;
    if (this.backlog.length === 0 && this.admit(input)) {
      this.deliver(input);
      return;
    }
    if (this.backlog.push(input) === 1) this.reads.hold();
    this.arm();
  }

  /** Whether `input` may go to the session in this turn; a stanza uses up one of the turn's budget. */
  private admit(input: Input): boolean {
    if (input.kind !== "stanza") return true;
    const now = currentTurn();
    if (now !== this.turn) {
      this.turn = now;
      this.used = 0;
    }
    if (this.used >= this.perTurn) return false;
    this.used++;
    return true;
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.armed = false;
    while (!this.stopped && this.backlog.length > 0) {
      const next = this.backlog[0] as Input;
      if (!this.admit(next)) {
        this.arm();
        return;
      }
      this.backlog.shift();
      this.deliver(next);
    }
    if (this.backlog.length === 0) this.reads.release();
  };

  private deliver(input: Input): void {
    switch (input.kind) {
      case "start": this.session.streamStart(input.attrs, input.info); break;
      case "stanza": this.session.stanza(input.el, input.size); break;
      case "end": this.session.streamEnd(); break;
      case "error": this.session.error(input.err); break;
      case "keepalive": this.session.keepalive?.(); break;
      case "call": input.fn(); break;
    }
  }
}
