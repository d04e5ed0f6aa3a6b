// Bounded turns: what a stream's parser produces reaches the session at most
// `perTurn` stanzas per event-loop turn. A client that pipelines hundreds of
// stanzas in one TCP segment (or one WebSocket read) would otherwise have them
// all decided in one turn, so all of their results would wait for that turn's
// one commit (commit-gate.ts), and every other connection would wait for the
// whole batch. Past the budget, the rest of the parsed input waits here, in
// order, with the transport's reads paused (so at most about one read's worth
// is ever buffered), and continues on a later turn (setImmediate: after the
// commit of this turn has been started, and after other sockets were polled).
//
// The turn as a whole has a time budget too (limits.turn_budget_ms), shared by
// every connection of the process, because the event loop is shared: once the
// loop has spent that long handing stanzas over in this turn, IQ sets (the
// stanzas that append events: roster, blocking, configuration) wait for a
// later turn, while messages, presence and IQ gets/results still go through
// up to twice the budget. So a chat message read in the same turn as twenty
// roster changes is decided first, its turn ends a few milliseconds later, and
// its delivery does not wait for all twenty to be decided and committed. Each
// stream keeps its own order (RFC 6120 §10.1: a message behind a waiting IQ set
// waits with it); only stanzas of different streams, which have no order
// between them, are reordered. The waiting streams resume in arrival order,
// the light ones first, and every turn hands over at least one IQ set, so
// writes are slowed under a flood of chat, never starved.
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

/**
 * An IQ set: the kind of stanza that appends events, which waits first when
 * the turn is over its budget. Resource binding (RFC 6120 §7) and the legacy
 * session IQ are sets that append nothing: a login is not made to wait.
 */
function isWrite(input: Input): boolean {
  if (input.kind !== "stanza" || input.el.name !== "iq" || input.el.attrs.type !== "set") return false;
  const payload = input.el.firstElement();
  return payload === undefined || (payload.ns !== NS_BIND && payload.ns !== NS_SESSION);
}

const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";

/**
 * The loop's time budget per turn, shared by every pacer of the process: how
 * long this turn has spent handing stanzas over, and the pacers waiting for a
 * later turn, resumed from one setImmediate in arrival order.
 */
export class TurnClock {
  private turn = -1;
  private spentMs = 0;
  private readonly waiting: StanzaPacer[] = [];
  private armed = false;

  /** `now`: milliseconds, performance.now() (tests give a clock of their own). */
  constructor(readonly now: () => number = () => performance.now()) {}

  /** Whether an input may be handed over now under a budget of `budgetMs` (> 0). */
  admits(write: boolean, budgetMs: number): boolean {
    this.refresh();
    return this.spentMs < (write ? budgetMs : 2 * budgetMs);
  }

  charge(ms: number): void {
    this.refresh();
    this.spentMs += ms;
  }

  wait(pacer: StanzaPacer): void {
    this.waiting.push(pacer);
    if (this.armed) return;
    this.armed = true;
    setImmediate(this.resume);
  }

  private refresh(): void {
    const now = currentTurn();
    if (now !== this.turn) {
      this.turn = now;
      this.spentMs = 0;
    }
  }

  private readonly resume = (): void => {
    this.armed = false;
    const waiting = this.waiting.splice(0);
    // Light input first (it is cheap and someone is waiting to read it), then
    // writes; the first write of the turn goes through whatever the clock says.
    for (const p of waiting) p.resume(false, false);
    let forced = false;
    for (const p of waiting) forced = p.resume(!forced, true) || forced;
    for (const p of waiting) p.settle();
  };
}

/** The process's clock: every connection's pacer shares it, as they share the event loop. */
const TURNS = new TurnClock();

export class StanzaPacer implements StreamListener {
  private readonly backlog: Input[] = [];
  private turn = -1;
  private used = 0;
  private queued = false;
  private stopped = false;

  /**
   * `perTurn`: this stream's stanzas per turn; `budgetMs`: the loop's time per
   * turn past which IQ sets wait (limits.turn_budget_ms; 0: none); `clock`: the
   * process's (tests give their own).
   */
  constructor(
    private readonly session: StreamListener,
    private readonly perTurn: number,
    private readonly reads: BacklogReads,
    private readonly budgetMs = 0,
    private readonly clock: TurnClock = TURNS,
  ) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new Error(`stanzas per turn must be a positive whole number, not ${perTurn}`);
    if (!Number.isFinite(budgetMs) || budgetMs < 0) throw new Error(`the turn budget must be zero or more milliseconds, not ${budgetMs}`);
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
    if (this.backlog.length === 0 && this.admit(input, false)) {
      this.deliver(input);
      return;
    }
    if (this.backlog.push(input) === 1) this.reads.hold();
    this.enqueue();
  }

  /**
   * Whether `input` may go to the session in this turn: within this stream's
   * stanza budget and the loop's time budget (`force`: the turn's one write
   * that goes through anyway). A stanza uses up one of the stream's budget.
   */
  private admit(input: Input, force: boolean): boolean {
    if (input.kind !== "stanza") return true;
    const now = currentTurn();
    if (now !== this.turn) {
      this.turn = now;
      this.used = 0;
    }
    if (this.used >= this.perTurn) return false;
    if (!force && this.budgetMs > 0 && !this.clock.admits(isWrite(input), this.budgetMs)) return false;
    this.used++;
    return true;
  }

  private enqueue(): void {
    if (this.queued) return;
    this.queued = true;
    this.clock.wait(this);
  }

  /**
   * Called by the turn clock on a later turn: hands over what the budgets
   * allow, only light input when `writes` is false; `force`: the first
   * write may pass the time budget. True if a write went through on it.
   */
  resume(force: boolean, writes: boolean): boolean {
    let forced = false;
    while (!this.stopped && this.backlog.length > 0) {
      const next = this.backlog[0] as Input;
      const write = isWrite(next);
      if (!writes && write) return forced;
      const useForce = force && !forced && write;
      if (!this.admit(next, useForce)) return forced;
      if (useForce) forced = true;
      this.backlog.shift();
      this.deliver(next);
    }
    return forced;
  }

  /** After a resume: waits for another turn if anything is left, else lets the transport read again. */
  settle(): void {
    this.queued = false;
    if (this.stopped) return;
    if (this.backlog.length > 0) this.enqueue();
    else this.reads.release();
  }

  private deliver(input: Input): void {
    // Timed only for the loop's time budget.
    if (this.budgetMs === 0 || input.kind !== "stanza") return this.handOver(input);
    const started = this.clock.now();
    try {
      this.handOver(input);
    } finally {
      this.clock.charge(this.clock.now() - started);
    }
  }

  private handOver(input: Input): void {
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
