// The hook bus: named events with prioritised handlers, in the manner of
// Prosody's module:hook(event, handler, priority). Handlers run from the
// highest priority down (registration order breaks ties); one that returns
// HANDLED stops the chain. The event names say what and where:
//
//   pre-message/bare     a user's resource sent a message to a bare JID (before routing)
//   message/full         a message reached this account, addressed to a full JID
//   iq-set/self/urn:xmpp:blocking:block
//                        an IQ set from the user to their own account, payload <block/>
//   resource-bind, account-deleted, disco-info/host …   lifecycle events
//
// See HookPayloads for every name and what its handlers receive.
import type { HookPayloads } from "./events.js";

export const HANDLED = Symbol("handled");
export type HookResult = typeof HANDLED | undefined | void;

export type HookName = keyof HookPayloads | IqHookName | StanzaHookName;

type StanzaKind = "message" | "presence" | "iq";
/** bare: to a user's bare JID (or no `to`); full: to a full JID; host: to a served domain itself. */
export type AddressKind = "bare" | "full" | "host";
/** `…/unknown`: to a bare or full JID of a served domain that has no such account. */
export type StanzaHookName = `pre-${StanzaKind}/${AddressKind}` | `${StanzaKind}/${AddressKind}` | `${StanzaKind}/unknown`;

/** self: from the account's own resources to its bare JID; bare: from anyone else to it; host: to the domain. */
export type IqTarget = "self" | "bare" | "host";
export type IqHookName = `iq-${"get" | "set"}/${IqTarget}/${string}`;

/** The IQ event name for a payload, as Prosody spells it: iq-get/host/urn:xmpp:ping:ping. */
export function iqHookName(type: "get" | "set", target: IqTarget, ns: string, name: string): IqHookName {
  return `iq-${type}/${target}/${ns}:${name}`;
}

export type PayloadOf<N extends HookName> =
  N extends keyof HookPayloads ? HookPayloads[N]
    : N extends `iq-${string}/host/${string}` ? HookPayloads["iq/host-request"]
      : N extends IqHookName ? HookPayloads["iq/account-request"]
        : N extends `pre-${string}` ? HookPayloads["pre-stanza"]
          : N extends `${string}/host` | `${string}/unknown` ? HookPayloads["stanza/host"]
            : HookPayloads["stanza"];

export type HookHandler<N extends HookName> = (payload: PayloadOf<N>) => HookResult;

interface Registration {
  readonly handler: (payload: never) => HookResult;
  readonly priority: number;
  readonly owner: string;
  readonly order: number;
}

export class HookConflictError extends Error {
  constructor(readonly event: string, readonly priority: number, readonly owners: [string, string]) {
    super(`${owners[1]} hooks ${event} at priority ${priority}, which ${owners[0]} already answers: an IQ has one handler per priority`);
    this.name = "HookConflictError";
  }
}

export class HookBus {
  private readonly chains = new Map<string, Registration[]>();
  private order = 0;

  /**
   * Adds a handler. For IQ events (iq-get/…, iq-set/…), which get exactly one
   * reply, a second handler at the same priority is an error rather than a
   * silent replacement.
   */
  on<N extends HookName>(event: N, handler: HookHandler<N>, priority = 0, owner = "kernel"): () => void {
    const chain = this.chains.get(event) ?? [];
    if (event.startsWith("iq-")) {
      const clash = chain.find((r) => r.priority === priority);
      if (clash) throw new HookConflictError(event, priority, [clash.owner, owner]);
    }
    const registration: Registration = { handler: handler as (payload: never) => HookResult, priority, owner, order: this.order++ };
    const next = [...chain, registration].sort((a, b) => b.priority - a.priority || a.order - b.order);
    this.chains.set(event, next);
    return () => {
      const current = this.chains.get(event);
      if (current) this.chains.set(event, current.filter((r) => r !== registration));
    };
  }

  /** Runs the chain; true when a handler returned HANDLED. */
  fire<N extends HookName>(event: N, payload: PayloadOf<N>): boolean {
    const chain = this.chains.get(event);
    if (!chain) return false;
    for (const r of chain) {
      if ((r.handler as (p: PayloadOf<N>) => HookResult)(payload) === HANDLED) return true;
    }
    return false;
  }

  has(event: HookName): boolean {
    return (this.chains.get(event)?.length ?? 0) > 0;
  }

  /** Who hooks what, for debugging and the architecture document. */
  describe(): { event: string; owner: string; priority: number }[] {
    const out: { event: string; owner: string; priority: number }[] = [];
    for (const [event, chain] of [...this.chains].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const r of chain) out.push({ event, owner: r.owner, priority: r.priority });
    }
    return out;
  }
}
