// The interop suite's ratchet, as pure functions (test/unit/interop-ratchet.test.ts):
// each test's outcome from SintRunner against interop/expected-failures.json.

/** Classes without @SpecificationReference: the document their tests exercise. */
export const SPEC_OF_UNANNOTATED: Record<string, string> = {
  ChatTest: "RFC 6121", // message exchange between two users (§5)
  IncomingMessageListenerIntegrationTest: "RFC 6121",
  OutgoingMessageListenerIntegrationTest: "RFC 6121",
  LowLevelRosterIntegrationTest: "RFC 6121", // roster and presence (§2, §4)
  LoginIntegrationTest: "RFC 6120", // SASL failure (§6.5)
  WaitForClosingStreamElementTest: "RFC 6120", // closing the stream (§4.4)
  XmppConnectionIntegrationTest: "RFC 6120",
  SimpleXmppConnectionIntegrationTest: "RFC 6120",
  ModularXmppClientToServerConnectionLowLevelIntegrationTest: "RFC 6120",
  XmppConnectionStressTest: "RFC 6120",
  StreamManagementTest: "XEP-0198",
  FormTest: "XEP-0004",
};

export interface TestRecord {
  class: string;
  method: string;
  name: string;
  spec: string | null;
  outcome: "passed" | "failed" | "notPossible";
  durationMs: number;
  reason?: string;
  /** How many runs a flaky test took (absent: one). */
  attempts?: number;
}
export interface RunResult {
  smackVersion: string;
  availableTests: number;
  durationMs: number;
  testTimeoutSeconds: number;
  /** The test that passed the per-test limit, where SintRunner stopped the run (exit code 3). */
  stoppedAt: string | null;
  tests: TestRecord[];
  impossibleClasses: { class: string; spec: string | null; reason: string }[];
}
export interface Expected {
  failures: Record<string, string>;
  notPossible: Record<string, string>;
  disabled: Record<string, string>;
  flaky: Record<string, string>;
}

export const simple = (cls: string): string => cls.slice(cls.lastIndexOf(".") + 1);
export const normSpec = (spec: string | null, cls: string): string => {
  const s = spec ?? SPEC_OF_UNANNOTATED[simple(cls)] ?? "unspecified";
  return s.replace(/^(RFC|XEP)-?\s*(\d+)$/i, (_m, kind: string, n: string) => kind.toUpperCase() === "RFC" ? `RFC ${n}` : `XEP-${n.padStart(4, "0")}`);
};
export const firstLine = (s: string | undefined): string => (s ?? "").split("\n")[0]?.slice(0, 300) ?? "";

export interface Verdict { key: string; spec: string; status: "passed" | "expected-failure" | "expected-not-possible" | "unexpected"; message?: string }

export function judge(result: RunResult, expected: Expected, focused: boolean): Verdict[] {
  const verdicts: Verdict[] = [];
  const seen = new Set<string>();
  const keys = new Map<string, number>();
  for (const t of result.tests) {
    const k = `${simple(t.class)}.${t.method}`;
    keys.set(k, (keys.get(k) ?? 0) + 1);
  }
  for (const t of result.tests) {
    let key = `${simple(t.class)}.${t.method}`;
    if ((keys.get(key) ?? 0) > 1) key = t.name; // the same method run more than once (another connection kind)
    seen.add(key);
    const spec = normSpec(t.spec, t.class);
    const listedFail = expected.failures[key];
    const listedNP = expected.notPossible[key] ?? expected.notPossible[simple(t.class)];
    const why = firstLine(t.reason);
    const flaky = expected.flaky[key];
    const tries = t.attempts ?? 1;
    if (flaky && t.outcome === "passed") {
      verdicts.push({ key, spec, status: "passed", ...(tries > 1 ? { message: `flaky: passed at attempt ${tries}` } : {}) });
    } else if (flaky && t.outcome === "failed") {
      verdicts.push({ key, spec, status: "unexpected", message: `flaky, but failed all ${tries} attempts: ${why}` });
    } else if (t.outcome === "passed") {
      if (listedFail) verdicts.push({ key, spec, status: "unexpected", message: `now passes: remove it from interop/expected-failures.json ("failures")` });
      else if (listedNP) verdicts.push({ key, spec, status: "unexpected", message: `now runs and passes: remove it from interop/expected-failures.json ("notPossible")` });
      else verdicts.push({ key, spec, status: "passed" });
    } else if (t.outcome === "failed") {
      if (listedFail) verdicts.push({ key, spec, status: "expected-failure", message: why });
      else if (listedNP) verdicts.push({ key, spec, status: "unexpected", message: `was listed as not possible, now runs and fails: ${why}` });
      else verdicts.push({ key, spec, status: "unexpected", message: `failed: ${why}` });
    } else {
      if (listedNP) verdicts.push({ key, spec, status: "expected-not-possible", message: why });
      else verdicts.push({ key, spec, status: "unexpected", message: `${listedFail ? "was expected to run and fail; now" : "newly"} not possible: ${why}` });
    }
  }
  for (const c of result.impossibleClasses) {
    const key = simple(c.class);
    seen.add(key);
    const spec = normSpec(c.spec, c.class);
    if (expected.notPossible[key]) verdicts.push({ key, spec, status: "expected-not-possible", message: firstLine(c.reason) });
    else verdicts.push({ key, spec, status: "unexpected", message: `the whole class is newly not possible: ${firstLine(c.reason)}` });
  }
  if (!focused) {
    const stale = (section: "failures" | "notPossible" | "flaky") => {
      for (const key of Object.keys(expected[section])) {
        // A notPossible entry naming a class covers its methods too.
        const covered = seen.has(key) || (section === "notPossible" && [...seen].some((s) => s.startsWith(`${key}.`)));
        if (!covered) verdicts.push({ key, spec: "(list)", status: "unexpected", message: `listed in interop/expected-failures.json ("${section}") but not run at all: remove or rename it` });
      }
    };
    stale("failures");
    stale("notPossible");
    stale("flaky");
  }
  return verdicts;
}
