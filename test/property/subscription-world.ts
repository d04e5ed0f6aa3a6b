// A pure simulation of several accounts exchanging subscription stanzas,
// roster changes and blocks, routed the way the server routes them — the
// decisions are the server's own (src/roster, src/blocking); only the
// plumbing between accounts is simulated. Used by the property tests.
import { emptyRosterState, type RosterEvent, type RosterState } from "../../src/roster/roster-types.js";
import { evolveRoster } from "../../src/roster/roster-evolve.js";
import { decideInbound, decideOutbound, type Effect, type SubscriptionType } from "../../src/roster/subscription.js";
import { decideRosterRemove, decideRosterSet, RosterError } from "../../src/roster/roster-commands.js";
import { decideBlock, decideUnblock, isBlocked } from "../../src/blocking/blocklist.js";
import { parseJid } from "../../src/jid/jid.js";

export type Command =
  | { kind: "presence"; from: number; to: number; type: SubscriptionType }
  | { kind: "rosterSet"; owner: number; contact: number; name: string }
  | { kind: "rosterRemove"; owner: number; contact: number }
  | { kind: "block"; owner: number; contact: number }
  | { kind: "unblock"; owner: number; contact: number | "all" };

export class World {
  readonly states = new Map<string, RosterState>();
  readonly logs = new Map<string, RosterEvent[]>();

  constructor(readonly users: string[]) {
    for (const u of users) {
      this.states.set(u, emptyRosterState);
      this.logs.set(u, []);
    }
  }

  state(u: string): RosterState {
    return this.states.get(u) as RosterState;
  }

  private commit(owner: string, events: RosterEvent[]): void {
    const log = this.logs.get(owner) as RosterEvent[];
    let s = this.state(owner);
    for (const e of events) {
      // Through JSON, as the store does.
      const stored = JSON.parse(JSON.stringify(e)) as RosterEvent;
      log.push(stored);
      s = evolveRoster(s, stored);
    }
    this.states.set(owner, s);
  }

  /** A subscription stanza arriving at `to`, unless `to` blocked its sender (presence is dropped). */
  private deliver(from: string, to: string, type: SubscriptionType): void {
    if (isBlocked(this.state(to), parseJid(from))) return;
    const d = decideInbound(this.state(to), type, from, `<presence type='${type}'/>`);
    this.commit(to, d.events);
    this.effects(to, d.effects);
  }

  private effects(owner: string, effects: Effect[]): void {
    for (const e of effects) {
      if (e.kind === "presence" && (e.type === "subscribed" || e.type === "unsubscribed")) this.deliver(owner, e.to, e.type);
    }
  }

  run(c: Command): void {
    const u = (i: number) => this.users[i % this.users.length] as string;
    switch (c.kind) {
      case "presence": {
        const from = u(c.from);
        const to = u(c.to);
        if (from === to) return;
        // The sender's own block list bounces stanzas to blocked JIDs.
        if (isBlocked(this.state(from), parseJid(to))) return;
        const d = decideOutbound(this.state(from), c.type, to);
        this.commit(from, d.events);
        if (d.pass) this.deliver(from, to, c.type);
        this.effects(from, d.effects);
        return;
      }
      case "rosterSet": {
        if (u(c.owner) === u(c.contact)) return;
        this.commit(u(c.owner), decideRosterSet(this.state(u(c.owner)), u(c.owner), u(c.contact), c.name, []).events);
        return;
      }
      case "rosterRemove": {
        const owner = u(c.owner);
        const contact = u(c.contact);
        if (owner === contact) return;
        try {
          const d = decideRosterRemove(this.state(owner), owner, contact);
          this.commit(owner, d.events);
          for (const send of d.sends) if (!isBlocked(this.state(owner), parseJid(contact))) this.deliver(owner, contact, send);
        } catch (err) {
          if (!(err instanceof RosterError)) throw err;
        }
        return;
      }
      case "block":
        this.commit(u(c.owner), decideBlock(this.state(u(c.owner)), [u(c.contact)]).events);
        return;
      case "unblock":
        this.commit(u(c.owner), decideUnblock(this.state(u(c.owner)), c.contact === "all" ? [] : [u(c.contact)]).events);
        return;
    }
  }
}
