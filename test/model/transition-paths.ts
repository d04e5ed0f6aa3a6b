// Paths for model-based tests: the generator's paths (shortest, simple…) plus,
// for every transition they miss, the shortest path to its source state and
// that event — so every state and every transition of the model is exercised.
// Also the coverage figures the tests print.
import type { TestModel } from "xstate/graph";
import type { EventObject, Snapshot } from "xstate";

interface Step<S, E> { event: E; state: S }
interface PathLike<S, E> { steps: Step<S, E>[]; state: S }

export interface TransitionPaths<P> {
  paths: Map<string, P>;
  allTransitions: Set<string>;
  covered: Set<string>;
  reachedStates: Set<string>;
}

const isInit = (e: EventObject) => e.type === "xstate.init";

export function pathsCoveringEveryTransition<S extends Snapshot<unknown> & { value: unknown }, E extends EventObject, I, P extends PathLike<S, E>>(
  model: TestModel<S, E, I>,
  generated: P[],
  shortest: P[],
): TransitionPaths<P> {
  const key = (p: P) => p.steps.map((s) => s.event.type).join(" → ");
  const paths = new Map<string, P>();
  const covered = new Set<string>();
  const reachedStates = new Set<string>();
  const record = (p: P) => {
    paths.set(key(p), p);
    let prev: S | undefined;
    for (const s of p.steps) {
      if (prev && !isInit(s.event)) covered.add(`${String(prev.value)} --${s.event.type}-->`);
      reachedStates.add(String(s.state.value));
      prev = s.state;
    }
  };
  for (const p of generated) record(p);
  const allTransitions = new Set<string>();
  for (const entry of Object.values(model.getAdjacencyMap())) {
    const from = String(entry.state.value);
    for (const t of Object.values(entry.transitions) as { event: E }[]) {
      const label = `${from} --${t.event.type}-->`;
      allTransitions.add(label);
      if (covered.has(label)) continue;
      const prefix = shortest.find((p) => String(p.state.value) === from);
      if (!prefix) continue;
      const events = [...prefix.steps.map((s) => s.event).filter((e) => !isInit(e)), t.event];
      for (const p of model.getPathsFromEvents(events)) record(p as unknown as P);
    }
  }
  return { paths, allTransitions, covered, reachedStates };
}

/**
 * Replays one path against the system under test: `check` at every state of
 * the model (xstate/graph names them `<machine id>.<state>`), `actions[type]`
 * for each event.
 */
export async function replayPath<S>(
  path: { test(params: { states: Record<string, (s: S) => Promise<void> | void>; events: Record<string, () => Promise<void> | void> }): Promise<unknown> | unknown },
  machine: { readonly id: string; readonly states: Record<string, unknown> },
  check: (s: S) => Promise<void> | void,
  actions: Record<string, () => Promise<void> | void>,
): Promise<void> {
  await path.test({
    states: Object.fromEntries(Object.keys(machine.states).map((k) => [`${machine.id}.${k}`, check])),
    events: Object.fromEntries(Object.entries(actions).map(([type, run]) => [type, () => run()])),
  });
}
