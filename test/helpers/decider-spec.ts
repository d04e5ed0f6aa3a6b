// Decider tests as specifications (the decider pattern's given/when/then):
//
//   spec(accountDecider, context)
//     .given([...events])            the stream so far (folded with evolve)
//     .when(command)                 decided at once; a throw is kept for thenThrows
//     .then([...events])             the events decided (type and payload; meta is the context's)
//     .thenEffects([...effects])     or a predicate over them
//     .thenState(expected)           or a predicate: the state after given + decided events
//     .thenThrows(ErrorClass | "condition" | predicate)
//
// Each assertion returns the same outcome, so they chain. Failures say what
// was given, what was commanded, and what came out instead.
import * as assert from "uvu/assert";

export interface SpecDecider<C, S, E, X> {
  readonly initialState: S;
  evolve(state: S, event: E): S;
  decide(command: C, state: S, context: X): { readonly events: readonly E[]; readonly effects?: readonly unknown[] };
}

/** Anything an error can be recognised by: its class, its `condition` (DecisionError), or a predicate. */
export type ErrorMatch = (abstract new (...args: never[]) => Error) | string | ((err: unknown) => boolean);

/** Maps, Sets and nested values in a form a failure message can show. */
export function show(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    return v;
  });
}

const domainEvent = (e: unknown): unknown => {
  const { type, payload } = e as { type: string; payload: unknown };
  return { type, payload };
};

export class Outcome<C, S, E, X> {
  private readonly thrown: { error: unknown } | undefined;
  private readonly events: readonly E[] = [];
  private readonly effects: readonly unknown[] = [];

  constructor(private readonly decider: SpecDecider<C, S, E, X>, private readonly before: S, private readonly label: string, command: C, context: X) {
    try {
      const d = decider.decide(command, before, context);
      this.events = d.events;
      this.effects = d.effects ?? [];
    } catch (error) {
      this.thrown = { error };
    }
  }

  private decided(what: string): void {
    if (this.thrown) {
      const e = this.thrown.error;
      assert.unreachable(`${this.label}: expected ${what}, but decide threw ${e instanceof Error ? `${e.name}: ${e.message}` : show(e)}`);
    }
  }

  /**
   * The events decided, compared by type and payload. (Also makes the
   * outcome a thenable, harmlessly: a test that returns it is awaited, and
   * `await` calls then(resolve, reject); a function is resolved, not compared.)
   */
  then(expected: readonly E[] | ((value: undefined) => void)): this {
    if (typeof expected === "function") {
      expected(undefined);
      return this;
    }
    this.decided(`events ${show(expected.map(domainEvent))}`);
    assert.equal(this.events.map(domainEvent), expected.map(domainEvent), `${this.label}: the events decided`);
    return this;
  }

  /** The effects, in order (or a predicate over them, with a name for the failure message). */
  thenEffects(expected: readonly unknown[] | ((effects: readonly unknown[]) => boolean), name = "the expected effects"): this {
    this.decided(typeof expected === "function" ? name : `effects ${show(expected)}`);
    if (typeof expected === "function") {
      assert.ok(expected(this.effects), `${this.label}: effects ${show(this.effects)} are not ${name}`);
    } else {
      assert.equal(this.effects, expected, `${this.label}: the effects`);
    }
    return this;
  }

  /** The state after the given and the decided events (or a predicate over it, with a name). */
  thenState(expected: S | ((state: S) => boolean), name = "the expected state"): this {
    this.decided(typeof expected === "function" ? name : `state ${show(expected)}`);
    const after = this.events.reduce((s, e) => this.decider.evolve(s, e), this.before);
    if (typeof expected === "function") {
      assert.ok((expected as (state: S) => boolean)(after), `${this.label}: the state ${show(after)} is not ${name}`);
    } else {
      assert.equal(after, expected, `${this.label}: the state`);
    }
    return this;
  }

  /** decide threw an error of this class, with this condition, or satisfying this predicate. */
  thenThrows(match: ErrorMatch): this {
    if (!this.thrown) {
      assert.unreachable(`${this.label}: expected an error (${typeof match === "string" ? match : match.name || "a predicate"}), but decided events ${show(this.events.map(domainEvent))} and effects ${show(this.effects)}`);
      return this;
    }
    const err = this.thrown.error;
    const described = err instanceof Error ? `${err.name}: ${err.message}` : show(err);
    if (typeof match === "string") {
      const condition = (err as { condition?: unknown } | null)?.condition;
      assert.is(condition, match, `${this.label}: ${described} has condition ${show(condition)}, not ${match}`);
    } else if (match.prototype instanceof Error || match === Error) {
      assert.ok(err instanceof (match as abstract new (...args: never[]) => Error), `${this.label}: ${described} is not a ${match.name}`);
    } else {
      assert.ok((match as (err: unknown) => boolean)(err), `${this.label}: ${described} does not match`);
    }
    return this;
  }
}

export class Given<C, S, E, X> {
  constructor(private readonly decider: SpecDecider<C, S, E, X>, private readonly context: X, private readonly history: readonly E[]) {}

  when(command: C): Outcome<C, S, E, X> {
    const state = this.history.reduce((s, e) => this.decider.evolve(s, e), this.decider.initialState);
    const label = `given [${this.history.map((e) => (e as { type?: string }).type ?? show(e)).join(", ")}] when ${show(command)}`;
    return new Outcome(this.decider, state, label, command, this.context);
  }
}

export function spec<C, S, E, X>(decider: SpecDecider<C, S, E, X>, context: X) {
  return {
    given: (events: readonly E[]): Given<C, S, E, X> => new Given(decider, context, events),
    when: (command: C): Outcome<C, S, E, X> => new Given(decider, context, []).when(command),
  };
}
