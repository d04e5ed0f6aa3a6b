// The fast path of deliveries to a bound session. Once a resource is bound
// (RFC 6120 §7), a stanza routed to the full JID has one effect: it is written
// to the stream. That needs no macrostep of the session actor, so the session
// attaches a sink when it enters `bound` and withdraws it when it leaves; a
// delivery that finds no sink goes through the machine, which drops it (a
// session that is not bound cannot be addressed).
//
// Every stanza written on a bound stream passes this one sink: deliveries,
// and the session's own replies in `bound` (session IQ, stanza errors). So
// stream management (XEP-0198 §4: the server counts the stanzas it sends, to
// match the client's <a h='…'/>) counts by attaching a sink that counts and
// then writes, and resumption by one that keeps the unacknowledged.
import type { XmlElement } from "../xml/element.js";
import type { SessionCommand, SessionRef } from "./session-types.js";

/** Where a bound session's deliveries are written. */
export interface DeliverySink {
  deliver(stanza: XmlElement): void;
}

/** The one place a session's deliveries may go: a sink while bound, nothing otherwise. */
export class DeliveryOutlet {
  #sink: DeliverySink | undefined;

  attach(sink: DeliverySink): void {
    if (this.#sink) throw new Error("a delivery sink is already attached to this session");
    this.#sink = sink;
  }

  /** Withdraws `sink` if it is the one attached (after a resumption another session's may be: XEP-0198 §5). */
  withdraw(sink?: DeliverySink): void {
    if (sink === undefined || this.#sink === sink) this.#sink = undefined;
  }

  /** Hands the stanza to the sink; false when none is attached (the caller then asks the machine). */
  offer(stanza: XmlElement): boolean {
    const sink = this.#sink;
    if (!sink) return false;
    sink.deliver(stanza);
    return true;
  }
}

/**
 * The SessionRef an account actor holds: deliveries go to the sink while one is
 * attached, everything else (and a delivery when none is) to the session actor.
 */
export function sessionRefThrough(
  sessionId: string,
  outlet: DeliveryOutlet,
  actor: { send(command: SessionCommand): void },
): SessionRef {
  return {
    sessionId,
    send: (command) => {
      if (command.type === "deliver" && outlet.offer(command.stanza)) return;
      actor.send(command);
    },
  };
}
