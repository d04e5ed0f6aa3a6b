// The router: a destination table keyed by domain. A served domain (its
// accounts and the domain itself) is one kind of destination; a component
// (conference.example, pubsub.example, upload.example) another; everything
// not in the table goes to the remote destination (server-to-server, once
// it exists; until then an error back, RFC 6120 §8.3.3.15).
import type { XmlElement } from "../xml/element.js";
import { tryParseJid, type Jid } from "../jid/jid.js";
import { errorReply, type StanzaErrorSpec } from "../xmpp/errors.js";
import type { Logger } from "../util/logger.js";
import { accountStreamId } from "../events/types.js";
import { NO_OUTPUT_CAUSES, type OutputCauses } from "../events/commit-gate.js";

export type DestinationKind = "local host" | "component" | "remote";

export interface Destination {
  readonly kind: DestinationKind;
  /** Takes a stanza whose parsed `to` is in this destination's domain. */
  accept(stanza: XmlElement, to: Jid): void;
}

export class DestinationConflictError extends Error {
  constructor(readonly domain: string, readonly existing: DestinationKind) {
    super(`the domain ${domain} is already routed to a ${existing}`);
    this.name = "DestinationConflictError";
  }
}

export class Router {
  private readonly table = new Map<string, Destination>();
  private remote: Destination;

  constructor(private readonly defaultDomain: string, private readonly log: Logger, private readonly causes: OutputCauses = NO_OUTPUT_CAUSES) {
    this.remote = {
      kind: "remote",
      accept: (stanza, to) => this.bounce(stanza, { condition: "remote-server-not-found", text: `${to.domain} is not served here` }),
    };
  }

  /** Routes a domain (lower-case, as JIDs are prepared) to a destination. */
  addDestination(domain: string, destination: Destination): void {
    const existing = this.table.get(domain);
    if (existing) throw new DestinationConflictError(domain, existing.kind);
    this.table.set(domain, destination);
  }

  removeDestination(domain: string): void {
    this.table.delete(domain);
  }

  /** Where stanzas for domains not in the table go (server-to-server). */
  setRemote(destination: Destination): void {
    this.remote = destination;
  }

  kindOf(domain: string): DestinationKind {
    return this.table.get(domain)?.kind ?? "remote";
  }

  /** Sends a stanza toward its `to`. */
  route(stanza: XmlElement): void {
    const to = stanza.attrs.to;
    if (to === undefined) {
      this.log.warn("dropping a routed stanza without 'to'", { from: stanza.attrs.from, name: stanza.name });
      return;
    }
    const jid = tryParseJid(to);
    if (!jid) {
      this.bounce(stanza, { condition: "jid-malformed", text: `'${to}' is not a valid JID` }, this.defaultDomain);
      return;
    }
    this.routeTo(stanza, jid);
  }

  /** Sends a stanza to an already parsed address. */
  routeTo(stanza: XmlElement, to: Jid): void {
    const destination = this.table.get(to.domain) ?? this.remote;
    // What the output of this handling now depends on: the recipient account's
    // state, or, for the host, a component or a remote server, anything.
    if (destination.kind === "local host" && to.local !== "") this.causes.touch(accountStreamId(to.bareString()));
    else this.causes.touchAll();
    destination.accept(stanza, to);
  }

  bounce(stanza: XmlElement, error: StanzaErrorSpec, from?: string): void {
    if (stanza.attrs.type === "error" || stanza.attrs.from === undefined) return;
    // Results need no answer either (RFC 6120 §8.2.3).
    if (stanza.name === "iq" && stanza.attrs.type === "result") return;
    this.route(errorReply(stanza, error, from ?? stanza.attrs.to ?? this.defaultDomain));
  }
}
