// The interop suite's expected-failure ratchet (test/interop/ratchet.ts): the
// list may only shrink, and every outcome that the list does not foresee fails.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { judge, normSpec, type Expected, type RunResult, type TestRecord } from "../interop/ratchet.js";

const PKG = "org.jivesoftware.smackx";

function rec(cls: string, method: string, outcome: TestRecord["outcome"], extra: Partial<TestRecord> = {}): TestRecord {
  return { class: `${PKG}.${cls}`, method, name: `${cls}.${method} (Normal)`, spec: "XEP-0199", outcome, durationMs: 1, reason: outcome === "passed" ? undefined : "org.example.Failure: why\n    at somewhere", ...extra };
}

function run(tests: TestRecord[], impossible: RunResult["impossibleClasses"] = []): RunResult {
  return { smackVersion: "test", availableTests: tests.length, durationMs: 1, testTimeoutSeconds: 60, stoppedAt: null, tests, impossibleClasses: impossible };
}

const none: Expected = { failures: {}, notPossible: {}, disabled: {}, flaky: {} };
const statusOf = (verdicts: ReturnType<typeof judge>, key: string) => verdicts.find((v) => v.key === key)?.status;

test("a passing unlisted test passes; a failing unlisted one is unexpected, with its reason", () => {
  const v = judge(run([rec("PingIntegrationTest", "pingServer", "passed"), rec("PingIntegrationTest", "pingAsync", "failed")]), none, false);
  assert.is(statusOf(v, "PingIntegrationTest.pingServer"), "passed");
  assert.is(statusOf(v, "PingIntegrationTest.pingAsync"), "unexpected");
  assert.match(v.find((x) => x.key === "PingIntegrationTest.pingAsync")?.message ?? "", "org.example.Failure: why");
});

test("a listed failure that fails is expected; one that passes fails the run (the list may only shrink)", () => {
  const expected = { ...none, failures: { "MoodIntegrationTest.testNotification": "no PEP", "MoodIntegrationTest.testOther": "no PEP" } };
  const v = judge(run([rec("MoodIntegrationTest", "testNotification", "failed"), rec("MoodIntegrationTest", "testOther", "passed")]), expected, false);
  assert.is(statusOf(v, "MoodIntegrationTest.testNotification"), "expected-failure");
  assert.is(statusOf(v, "MoodIntegrationTest.testOther"), "unexpected");
  assert.match(v.find((x) => x.key === "MoodIntegrationTest.testOther")?.message ?? "", "now passes");
});

test("not possible: listed classes are expected, unlisted ones and listed ones that run are unexpected", () => {
  const expected = { ...none, notPossible: { MamIntegrationTest: "no MAM", PubSubIntegrationTest: "no pubsub" } };
  const v = judge(run([rec("PubSubIntegrationTest", "simplePubSubNodeTest", "passed"), rec("VersionIntegrationTest", "testVersion", "notPossible")], [
    { class: `${PKG}.MamIntegrationTest`, spec: "XEP-0313", reason: "TestNotPossibleException: no MAM" },
    { class: `${PKG}.HttpFileUploadIntegrationTest`, spec: "XEP-0363", reason: "TestNotPossibleException: no upload" },
  ]), expected, false);
  assert.is(statusOf(v, "MamIntegrationTest"), "expected-not-possible");
  assert.is(statusOf(v, "HttpFileUploadIntegrationTest"), "unexpected");
  assert.is(statusOf(v, "PubSubIntegrationTest.simplePubSubNodeTest"), "unexpected");
  assert.is(statusOf(v, "VersionIntegrationTest.testVersion"), "unexpected");
});

test("a flaky test passes if an attempt passed and fails only when every attempt failed", () => {
  const expected = { ...none, flaky: { "EntityCapsTest.testLocalEntityCaps": "race", "SoftwareInfoIntegrationTest.test": "race" } };
  const v = judge(run([
    rec("EntityCapsTest", "testLocalEntityCaps", "passed", { attempts: 3 }),
    rec("SoftwareInfoIntegrationTest", "test", "failed", { attempts: 6 }),
  ]), expected, false);
  assert.is(statusOf(v, "EntityCapsTest.testLocalEntityCaps"), "passed");
  assert.match(v.find((x) => x.key === "EntityCapsTest.testLocalEntityCaps")?.message ?? "", "attempt 3");
  assert.is(statusOf(v, "SoftwareInfoIntegrationTest.test"), "unexpected");
  assert.match(v.find((x) => x.key === "SoftwareInfoIntegrationTest.test")?.message ?? "", "all 6 attempts");
});

test("a listed name that did not run is stale in a full run, and ignored in a focused one", () => {
  const expected = { ...none, failures: { "GoneIntegrationTest.testGone": "renamed" }, notPossible: { MultiUserChatIntegrationTest: "no MUC" } };
  const result = run([rec("PingIntegrationTest", "pingServer", "passed"), rec("MultiUserChatIntegrationTest", "mucTest", "notPossible")]);
  const full = judge(result, expected, false);
  assert.is(statusOf(full, "GoneIntegrationTest.testGone"), "unexpected");
  // A class listed as not possible covers the methods that the framework reports one by one.
  assert.is(statusOf(full, "MultiUserChatIntegrationTest"), undefined);
  assert.is(statusOf(full, "MultiUserChatIntegrationTest.mucTest"), "expected-not-possible");
  assert.is(statusOf(judge(result, expected, true), "GoneIntegrationTest.testGone"), undefined);
});

test("specifications: annotations normalised, unannotated classes mapped, the rest named unspecified", () => {
  assert.is(normSpec("RFC6121", "x.RosterIntegrationTest"), "RFC 6121");
  assert.is(normSpec("XEP-199", "x.PingIntegrationTest"), "XEP-0199");
  assert.is(normSpec(null, "org.jivesoftware.smack.StreamManagementTest"), "XEP-0198");
  assert.is(normSpec(null, "org.example.SomethingNew"), "unspecified");
});

test.run();
