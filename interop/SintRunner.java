// Runs Smack's integration test framework and writes every outcome as JSON.
//
// Launched as a single source file (`java -cp <classpath> interop/SintRunner.java OUT.json`,
// Java 11+), so that nothing needs a build step: the class path comes from
// `mvn dependency:build-classpath` over interop/pom.xml. The framework reads
// its configuration from the `sinttest.*` system properties, as its own main
// does; this wrapper only adds
//   - `parley.disabled` (Class or Class.method, comma-separated): tests not to
//     run. The framework's own sinttest.disabledTests cannot disable one method
//     (in 4.5.0-beta5, naming Class.method there disables the whole class), so
//     this wrapper scans the test classes as the framework does and writes
//     sinttest.enabledTests instead (intersected with an existing
//     sinttest.enabledTests, which then selects what runs);
//   - a per-test time limit (system property `parley.testTimeoutSeconds`): when
//     one test runs longer, a watchdog writes the results so far with that test
//     failed and ends the JVM with exit code 3; the driver resumes the run
//     without the tests that have a result;
//   - a machine-readable result: one record per test (class, method, the
//     specification its class names in @SpecificationReference, outcome,
//     the failure or the reason it was not possible, duration).
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.igniterealtime.smack.inttest.AbstractSmackIntTest;
import org.igniterealtime.smack.inttest.AbstractSmackIntegrationTest;
import org.igniterealtime.smack.inttest.AbstractSmackLowLevelIntegrationTest;
import org.igniterealtime.smack.inttest.AbstractSmackSpecificLowLevelIntegrationTest;
import org.igniterealtime.smack.inttest.Configuration;
import org.igniterealtime.smack.inttest.FailedTest;
import org.igniterealtime.smack.inttest.SmackIntegrationTestFramework;
import org.igniterealtime.smack.inttest.SuccessfulTest;
import org.igniterealtime.smack.inttest.TestNotPossible;
import org.igniterealtime.smack.inttest.annotations.SmackIntegrationTest;
import org.igniterealtime.smack.inttest.annotations.SpecificationReference;
import org.reflections.Reflections;
import org.reflections.scanners.SubTypesScanner;

public final class SintRunner {

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java -cp CLASSPATH SintRunner.java OUT.json");
            System.exit(2);
        }
        Path out = Paths.get(args[0]);
        int limitSeconds = Integer.parseInt(System.getProperty("parley.testTimeoutSeconds", "60"));

        String disabled = System.getProperty("parley.disabled", "").trim();
        if (!disabled.isEmpty()) {
            String enabled = enabledTestsWithout(disabled, System.getProperty("sinttest.enabledTests"));
            if (enabled.isEmpty()) {
                // Resuming after a stop at the last test: nothing is left to run.
                Files.write(out, ("{\"smackVersion\": " + str(org.jivesoftware.smack.Smack.getVersion())
                                + ", \"availableTests\": 0, \"durationMs\": 0, \"testTimeoutSeconds\": " + limitSeconds
                                + ", \"stoppedAt\": null, \"tests\": [], \"impossibleClasses\": []}\n").getBytes(StandardCharsets.UTF_8));
                System.out.println("SintRunner: no test is left to run");
                System.exit(0);
            }
            System.setProperty("sinttest.enabledTests", enabled);
        }

        Configuration config = Configuration.newConfiguration(new String[0]);
        SmackIntegrationTestFramework framework = new SmackIntegrationTestFramework(config);

        long started = System.currentTimeMillis();
        Thread watchdog = new Thread(() -> watch(framework, out, limitSeconds, started), "parley-test-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();

        SmackIntegrationTestFramework.TestRunResult result = framework.run();
        watchdog.interrupt();
        write(out, result, System.currentTimeMillis() - started, limitSeconds, null);
        // Smack leaves non-daemon threads (reader, pinger) behind: end the JVM explicitly.
        System.exit(0);
    }

    /** The exit code of a run stopped at a test that passed its time limit: the results so far are written. */
    static final int STOPPED_AT_TIME_LIMIT = 3;

    private static synchronized void write(Path out, SmackIntegrationTestFramework.TestRunResult result, long took, int limitSeconds,
                    SmackIntegrationTestFramework.ConcreteTest hung) throws IOException {
        StringBuilder json = new StringBuilder();
        json.append("{\n  \"smackVersion\": ").append(str(org.jivesoftware.smack.Smack.getVersion()));
        json.append(",\n  \"availableTests\": ").append(result.getNumberOfAvailableTests());
        json.append(",\n  \"durationMs\": ").append(took);
        json.append(",\n  \"testTimeoutSeconds\": ").append(limitSeconds);
        json.append(",\n  \"stoppedAt\": ").append(hung == null ? "null" : str(hung.toString()));
        json.append(",\n  \"tests\": [");
        boolean first = true;
        for (SuccessfulTest t : new ArrayList<>(result.getSuccessfulTests())) {
            first = record(json, first, t.concreteTest, t.duration, "passed", null);
        }
        for (FailedTest t : new ArrayList<>(result.getFailedTests())) {
            first = record(json, first, t.concreteTest, t.duration, "failed", describe(t.failureReason));
        }
        for (TestNotPossible t : new ArrayList<>(result.getNotPossibleTests())) {
            first = record(json, first, t.concreteTest, t.duration, "notPossible", describe(t.testNotPossibleException));
        }
        if (hung != null) {
            record(json, first, hung, limitSeconds * 1000L, "failed", "no result within the per-test limit of " + limitSeconds
                            + " s (PARLEY_INTEROP_TEST_TIMEOUT): the run was stopped there and resumed without this test");
        }
        json.append("\n  ],\n  \"impossibleClasses\": [");
        first = true;
        for (Map.Entry<Class<? extends AbstractSmackIntTest>, Throwable> e : new HashMap<>(result.getImpossibleTestClasses()).entrySet()) {
            json.append(first ? "\n    " : ",\n    ");
            first = false;
            Class<?> c = e.getKey();
            json.append("{\"class\": ").append(str(c.getName()))
                .append(", \"spec\": ").append(str(specOf(c)))
                .append(", \"reason\": ").append(str(describe(e.getValue())))
                .append('}');
        }
        json.append("\n  ]\n}\n");
        Files.write(out, json.toString().getBytes(StandardCharsets.UTF_8));
        System.out.println("SintRunner: wrote " + out + " (" + result.getSuccessfulTests().size() + " passed, "
                        + result.getFailedTests().size() + " failed, " + result.getNotPossibleTests().size()
                        + " not possible, " + result.getImpossibleTestClasses().size() + " impossible classes"
                        + (hung == null ? "" : "; stopped at " + hung + ", which passed the time limit") + ")");
    }

    private static Set<String> parts(String list) {
        Set<String> set = new HashSet<>();
        if (list != null) {
            for (String s : list.split(",")) {
                if (!s.trim().isEmpty()) {
                    set.add(s.trim());
                }
            }
        }
        return set;
    }

    /** Every test in the framework's packages (or in `focus`, when given) but those in `disabled`, as sinttest.enabledTests. */
    private static String enabledTestsWithout(String disabled, String focus) {
        Set<String> off = parts(disabled);
        Set<String> only = focus == null || focus.trim().isEmpty() ? null : parts(focus);
        // The packages SmackIntegrationTestFramework scans when sinttest.testPackages is not set.
        Reflections reflections = new Reflections(new Object[] { "org.jivesoftware.smackx", "org.jivesoftware.smack",
                        "org.igniterealtime.smackx", "org.igniterealtime.smack", new SubTypesScanner() });
        Set<Class<? extends AbstractSmackIntTest>> classes = new TreeSet<>((a, b) -> a.getName().compareTo(b.getName()));
        classes.addAll(reflections.getSubTypesOf(AbstractSmackIntegrationTest.class));
        classes.addAll(reflections.getSubTypesOf(AbstractSmackLowLevelIntegrationTest.class));
        classes.addAll(reflections.getSubTypesOf(AbstractSmackSpecificLowLevelIntegrationTest.class));
        Set<String> known = new HashSet<>();
        List<String> enabled = new ArrayList<>();
        for (Class<? extends AbstractSmackIntTest> c : classes) {
            if (Modifier.isAbstract(c.getModifiers())) {
                continue;
            }
            String simple = c.getSimpleName();
            known.add(simple);
            known.add(c.getName());
            boolean wholeClassOff = off.contains(simple) || off.contains(c.getName());
            boolean wholeClassFocused = only == null || only.contains(simple) || only.contains(c.getName());
            boolean someMethodOff = false;
            List<String> methods = new ArrayList<>();
            for (Method m : c.getMethods()) {
                if (!m.isAnnotationPresent(SmackIntegrationTest.class)) {
                    continue;
                }
                known.add(simple + "." + m.getName());
                if (off.contains(simple + "." + m.getName())) {
                    someMethodOff = true;
                    continue;
                }
                if (wholeClassFocused || only.contains(simple + "." + m.getName())) {
                    methods.add(c.getName() + "." + m.getName());
                }
            }
            if (wholeClassOff || methods.isEmpty()) {
                continue;
            }
            if (wholeClassFocused && !someMethodOff) {
                enabled.add(c.getName());
            } else {
                enabled.addAll(methods);
            }
        }
        for (String d : off) {
            if (!known.contains(d)) {
                throw new IllegalArgumentException("parley.disabled names '" + d + "', which is no test class or method of the framework");
            }
        }
        return String.join(",", enabled);
    }

    /**
     * When one test has run for longer than the limit: writes the results so far, with that test as failed, and
     * ends the JVM with STOPPED_AT_TIME_LIMIT. (Interrupting the test is no way out: the framework ends the whole
     * run on an InterruptedException.) The driver then resumes the run without the tests that have a result.
     */
    private static void watch(SmackIntegrationTestFramework framework, Path out, int limitSeconds, long started) {
        Object current = null;
        long since = System.currentTimeMillis();
        try {
            for (;;) {
                Thread.sleep(500);
                SmackIntegrationTestFramework.ConcreteTest now = SmackIntegrationTestFramework.getTestUnderExecution();
                if (now != current) {
                    current = now;
                    since = System.currentTimeMillis();
                    continue;
                }
                if (now != null && System.currentTimeMillis() - since > limitSeconds * 1000L) {
                    System.err.println("SintRunner: " + now + " has run for more than " + limitSeconds + " s: stopping the run here");
                    Field f = SmackIntegrationTestFramework.class.getDeclaredField("testRunResult");
                    f.setAccessible(true);
                    SmackIntegrationTestFramework.TestRunResult sofar = (SmackIntegrationTestFramework.TestRunResult) f.get(framework);
                    write(out, sofar, System.currentTimeMillis() - started, limitSeconds, now);
                    Runtime.getRuntime().halt(STOPPED_AT_TIME_LIMIT);
                }
            }
        } catch (InterruptedException e) {
            // The run is over.
        } catch (Exception e) {
            System.err.println("SintRunner: the watchdog failed: " + e);
            e.printStackTrace();
            Runtime.getRuntime().halt(4);
        }
    }

    private static boolean record(StringBuilder json, boolean first, SmackIntegrationTestFramework.ConcreteTest test, long duration,
                    String outcome, String why) {
        Method m = test.getMethod();
        Class<?> c = m.getDeclaringClass();
        json.append(first ? "\n    " : ",\n    ");
        json.append("{\"class\": ").append(str(c.getName()))
            .append(", \"method\": ").append(str(m.getName()))
            .append(", \"name\": ").append(str(test.toString()))
            .append(", \"spec\": ").append(str(specOf(c)))
            .append(", \"outcome\": ").append(str(outcome))
            .append(", \"durationMs\": ").append(duration);
        if (why != null) {
            json.append(", \"reason\": ").append(str(why));
        }
        json.append('}');
        return false;
    }

    private static String specOf(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            SpecificationReference ref = k.getAnnotation(SpecificationReference.class);
            if (ref != null) {
                return ref.document();
            }
            Package p = k.getPackage();
            if (p != null && p.getAnnotation(SpecificationReference.class) != null) {
                return p.getAnnotation(SpecificationReference.class).document();
            }
        }
        return null;
    }

    /** The exception, its causes and the first frames that are not reflection: enough to see why. */
    private static String describe(Throwable t) {
        StringWriter w = new StringWriter();
        PrintWriter p = new PrintWriter(w);
        int depth = 0;
        for (Throwable c = t; c != null && depth < 4; c = c.getCause(), depth++) {
            p.print(depth == 0 ? "" : "\ncaused by: ");
            p.print(c.toString());
            int frames = 0;
            for (StackTraceElement e : c.getStackTrace()) {
                if (frames >= 6) {
                    break;
                }
                String cls = e.getClassName();
                if (cls.startsWith("java.") || cls.startsWith("jdk.") || cls.startsWith("sun.")) {
                    continue;
                }
                p.print("\n    at " + e);
                frames++;
            }
        }
        p.flush();
        return w.toString();
    }

    private static String str(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
            case '"': b.append("\\\""); break;
            case '\\': b.append("\\\\"); break;
            case '\n': b.append("\\n"); break;
            case '\r': b.append("\\r"); break;
            case '\t': b.append("\\t"); break;
            default:
                if (ch < 0x20) {
                    b.append(String.format("\\u%04x", (int) ch));
                } else {
                    b.append(ch);
                }
            }
        }
        return b.append('"').toString();
    }
}
