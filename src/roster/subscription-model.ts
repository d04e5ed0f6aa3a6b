// RFC 6121 Appendix A as an XState machine over the subscription between two
// local users, seen from romeo's side (juliet's side is its mirror). Events
// are the subscription stanzas either of them sends. Stanzas that would only
// store a pre-approval (§3.4) are left out, so the nine states stay exact.
import { setup } from "xstate";

export type PairEvent =
  | { type: "ROMEO_SUBSCRIBE" } | { type: "ROMEO_SUBSCRIBED" } | { type: "ROMEO_UNSUBSCRIBE" } | { type: "ROMEO_UNSUBSCRIBED" }
  | { type: "JULIET_SUBSCRIBE" } | { type: "JULIET_SUBSCRIBED" } | { type: "JULIET_UNSUBSCRIBE" } | { type: "JULIET_UNSUBSCRIBED" };

/** Romeo's state with juliet, as named in RFC 6121 Appendix A.1. */
export const PAIR_STATES = {
  none: "None",
  noneOut: "None + Pending Out",
  noneIn: "None + Pending In",
  noneOutIn: "None + Pending Out/In",
  to: "To",
  toIn: "To + Pending In",
  from: "From",
  fromOut: "From + Pending Out",
  both: "Both",
} as const;

export type PairState = keyof typeof PAIR_STATES;

/** Juliet's state is the mirror of romeo's. */
export const MIRROR: Record<PairState, PairState> = {
  none: "none", noneOut: "noneIn", noneIn: "noneOut", noneOutIn: "noneOutIn",
  to: "from", toIn: "fromOut", from: "to", fromOut: "toIn", both: "both",
};

export const subscriptionPairModel = setup({ types: { events: {} as PairEvent } }).createMachine({
  id: "pair",
  initial: "none",
  states: {
    none: { on: { ROMEO_SUBSCRIBE: "noneOut", ROMEO_UNSUBSCRIBE: "none", ROMEO_UNSUBSCRIBED: "none", JULIET_SUBSCRIBE: "noneIn", JULIET_UNSUBSCRIBE: "none", JULIET_UNSUBSCRIBED: "none" } },
    noneOut: { on: { ROMEO_SUBSCRIBE: "noneOut", ROMEO_UNSUBSCRIBE: "none", ROMEO_UNSUBSCRIBED: "noneOut", JULIET_SUBSCRIBE: "noneOutIn", JULIET_SUBSCRIBED: "to", JULIET_UNSUBSCRIBE: "noneOut", JULIET_UNSUBSCRIBED: "none" } },
    noneIn: { on: { ROMEO_SUBSCRIBE: "noneOutIn", ROMEO_SUBSCRIBED: "from", ROMEO_UNSUBSCRIBE: "noneIn", ROMEO_UNSUBSCRIBED: "none", JULIET_SUBSCRIBE: "noneIn", JULIET_UNSUBSCRIBE: "none", JULIET_UNSUBSCRIBED: "noneIn" } },
    noneOutIn: { on: { ROMEO_SUBSCRIBE: "noneOutIn", ROMEO_SUBSCRIBED: "fromOut", ROMEO_UNSUBSCRIBE: "noneIn", ROMEO_UNSUBSCRIBED: "noneOut", JULIET_SUBSCRIBE: "noneOutIn", JULIET_SUBSCRIBED: "toIn", JULIET_UNSUBSCRIBE: "noneOut", JULIET_UNSUBSCRIBED: "noneIn" } },
    to: { on: { ROMEO_SUBSCRIBE: "to", ROMEO_UNSUBSCRIBE: "none", JULIET_SUBSCRIBE: "toIn", JULIET_UNSUBSCRIBE: "to", JULIET_UNSUBSCRIBED: "none" } },
    toIn: { on: { ROMEO_SUBSCRIBE: "toIn", ROMEO_SUBSCRIBED: "both", ROMEO_UNSUBSCRIBE: "noneIn", ROMEO_UNSUBSCRIBED: "to", JULIET_SUBSCRIBE: "toIn", JULIET_UNSUBSCRIBE: "to", JULIET_UNSUBSCRIBED: "noneIn" } },
    from: { on: { ROMEO_SUBSCRIBE: "fromOut", ROMEO_SUBSCRIBED: "from", ROMEO_UNSUBSCRIBE: "from", ROMEO_UNSUBSCRIBED: "none", JULIET_SUBSCRIBE: "from", JULIET_UNSUBSCRIBE: "none", JULIET_UNSUBSCRIBED: "from" } },
    fromOut: { on: { ROMEO_SUBSCRIBE: "fromOut", ROMEO_SUBSCRIBED: "fromOut", ROMEO_UNSUBSCRIBE: "from", ROMEO_UNSUBSCRIBED: "noneOut", JULIET_SUBSCRIBE: "fromOut", JULIET_SUBSCRIBED: "both", JULIET_UNSUBSCRIBE: "noneOut", JULIET_UNSUBSCRIBED: "from" } },
    both: { on: { ROMEO_SUBSCRIBE: "both", ROMEO_SUBSCRIBED: "both", ROMEO_UNSUBSCRIBE: "from", ROMEO_UNSUBSCRIBED: "to", JULIET_SUBSCRIBE: "both", JULIET_SUBSCRIBED: "both", JULIET_UNSUBSCRIBE: "to", JULIET_UNSUBSCRIBED: "from" } },
  },
});

/**
 * Where a stored roster item (and a pending-in request beside it) sits in the
 * model: the Appendix A.1 state of the user with that contact. Pre-approval
 * (§3.4) is outside the nine states, so it does not change the answer.
 */
export function pairStateOf(subscription: "none" | "to" | "from" | "both", pendingOut: boolean, pendingIn: boolean): PairState {
  switch (subscription) {
    case "none": return pendingOut ? (pendingIn ? "noneOutIn" : "noneOut") : (pendingIn ? "noneIn" : "none");
    case "to": return pendingIn ? "toIn" : "to";
    case "from": return pendingOut ? "fromOut" : "from";
    case "both": return "both";
  }
}

/** The model's states and transitions as data, for drawing it. */
export function pairModelGraph(): { states: { id: PairState; label: string }[]; transitions: { from: PairState; to: PairState; event: PairEvent["type"] }[] } {
  const config = subscriptionPairModel.config.states as Record<PairState, { on: Partial<Record<PairEvent["type"], PairState>> }>;
  const states = (Object.keys(PAIR_STATES) as PairState[]).map((id) => ({ id, label: PAIR_STATES[id] }));
  const transitions = states.flatMap(({ id }) =>
    (Object.entries(config[id].on) as [PairEvent["type"], PairState][]).map(([event, to]) => ({ from: id, to, event })));
  return { states, transitions };
}
