// The server's metrics, with prom-client, exposed as OpenMetrics text
// (https://prometheus.io/docs/specs/om/open_metrics_spec/) at /metrics. Each
// is counted at the narrowest seam that sees it: the transports
// (connections, stanzas, stream and stanza errors, SASL outcomes: through
// ops/connections.ts), the event store (events appended, by type), the commit
// gate (turns, COMMIT, fdatasync, output held for durability). Gauges of
// state (connections open, users online, accounts, storage sizes) are read
// when scraped. Names and labels follow Prometheus' conventions: a `parley_`
// prefix, base units (seconds, bytes), `_total` on counters, and only labels
// with a small fixed set of values (transport, stanza kind, RFC 6120
// conditions, SASL mechanisms we offer, event types of the code).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type OpenMetricsContentType } from "prom-client";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Database } from "better-sqlite3";
import type { CloseReason, StanzaKind, TrafficCounters, ConnectionSummary } from "../ops/connections.js";
import type { TransportKind } from "../net/port-observer.js";
import type { CommitGateMetrics } from "../events/commit-gate.js";
import type { StoredEvent } from "../events/types.js";

/** What the gauges read when scraped. */
export interface MetricsSources {
  connections(): ConnectionSummary;
  accounts(): number;
  accountActors(): number;
  db: Database;
  /** The database file (its -wal beside it). */
  databaseFile: string;
  /** Where uploaded files are kept, if this server has such a directory. */
  uploadDir?: string;
  version: string;
  startedAt: Date;
}

/** Storage sizes walk the database's pages: at most once in this many milliseconds. */
const STORAGE_REFRESH_MS = 60_000;

/** Latencies from 50 µs (a COMMIT in WAL mode) to 10 s (a stuck disk). */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

const TRANSPORTS: readonly TransportKind[] = ["tcp", "tls", "websocket", "bosh"];

interface StorageSizes {
  at: number;
  tables: Map<string, number>;
  offline: { messages: number; bytes: number };
  mam: { messages: number; bytes: number };
  upload: { files: number; bytes: number } | undefined;
}

/**
 * A counter of one or two labels whose increments are kept as plain numbers
 * and handed to prom-client when it is collected (at a scrape): prom-client
 * hashes the label set on every inc(), and the per-stanza and per-event
 * counters are on the message path (2 % of the event loop under the events
 * benchmark).
 */
class TalliedCounter<L extends string> {
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(config: { name: string; help: string; labelNames: readonly [L] | readonly [L, L]; registers: Registry<OpenMetricsContentType>[] }) {
    const [first, second] = config.labelNames;
    const counts = this.counts;
    new Counter<L>({
      ...config,
      collect() {
        for (const [a, inner] of counts) {
          for (const [b, n] of inner) {
            const labels = { [first]: a } as Partial<Record<L, string>>;
            if (second !== undefined) labels[second] = b;
            this.inc(labels, n);
          }
        }
        counts.clear();
      },
    });
  }

  /** One more for these label values (the second only for a two-label counter). */
  inc(a: string, b = ""): void {
    let inner = this.counts.get(a);
    if (!inner) this.counts.set(a, (inner = new Map()));
    inner.set(b, (inner.get(b) ?? 0) + 1);
  }
}

export class ServerMetrics implements TrafficCounters, CommitGateMetrics {
  readonly registry: Registry<OpenMetricsContentType>;
  private readonly opened: Counter<"transport">;
  private readonly closed: Counter<"transport" | "reason">;
  private readonly stanzaErrors: Counter<"condition">;
  private readonly streamErrors: Counter<"condition">;
  private readonly saslSuccesses: Counter<"mechanism">;
  private readonly saslFailures: Counter<"mechanism" | "condition">;
  private readonly stanzasIn: TalliedCounter<"transport" | "kind">;
  private readonly stanzasOut: TalliedCounter<"transport" | "kind">;
  private readonly events: TalliedCounter<"type">;
  private readonly turns: Histogram<"committed">;
  private readonly commits: Histogram;
  private readonly fsyncs: Histogram;
  private readonly outputWaits: Histogram;
  private storage: StorageSizes | undefined;

  constructor(private readonly sources: MetricsSources) {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.registry = registry;
    collectDefaultMetrics({ register: registry });
    const registers = [registry];
    new Gauge({
      name: "parley_info", help: "Parley's version (the value is always 1)", labelNames: ["version"], registers,
      collect() { this.set({ version: sources.version }, 1); },
    });
    new Gauge({
      name: "parley_start_time_seconds", help: "When the server started, in seconds since the epoch", registers,
      collect() { this.set(sources.startedAt.getTime() / 1000); },
    });
    new Gauge({
      name: "parley_connections", help: "Client connections open, by transport (tcp: the STARTTLS port; tls: Direct TLS)", labelNames: ["transport"], registers,
      collect() {
        const c = sources.connections();
        for (const t of TRANSPORTS) this.set({ transport: t }, c.byTransport[t]);
      },
    });
    new Gauge({
      name: "parley_bound_resources", help: "Client streams with a bound resource (RFC 6120 §7)", registers,
      collect() { this.set(sources.connections().bound); },
    });
    new Gauge({
      name: "parley_authenticated_users", help: "Distinct users with at least one bound resource", registers,
      collect() { this.set(sources.connections().users); },
    });
    new Gauge({ name: "parley_accounts", help: "Accounts registered", registers, collect() { this.set(sources.accounts()); } });
    new Gauge({
      name: "parley_account_actors", help: "Account actors in memory (users online or recently active)", registers,
      collect() { this.set(sources.accountActors()); },
    });
    this.opened = new Counter({ name: "parley_connections_opened_total", help: "Client connections accepted", labelNames: ["transport"], registers });
    this.closed = new Counter({
      name: "parley_connections_closed_total", help: "Client connections closed, by why: client-closed, stream-error (we sent one), connection-lost",
      labelNames: ["transport", "reason"], registers,
    });
    this.stanzasIn = new TalliedCounter({
      name: "parley_stanzas_received_total", help: "Top-level elements from clients: message, presence, iq, or nonza (SASL, stream management…)",
      labelNames: ["transport", "kind"], registers,
    });
    this.stanzasOut = new TalliedCounter({ name: "parley_stanzas_sent_total", help: "Top-level elements to clients, by kind", labelNames: ["transport", "kind"], registers });
    this.stanzaErrors = new Counter({
      name: "parley_stanza_errors_sent_total", help: "Error stanzas sent to clients, by RFC 6120 §8.3.3 condition (other: anything else)", labelNames: ["condition"], registers,
    });
    this.streamErrors = new Counter({ name: "parley_stream_errors_sent_total", help: "Stream errors sent, by RFC 6120 §4.9.3 condition", labelNames: ["condition"], registers });
    this.saslSuccesses = new Counter({ name: "parley_sasl_successes_total", help: "Successful SASL authentications, by mechanism", labelNames: ["mechanism"], registers });
    this.saslFailures = new Counter({
      name: "parley_sasl_failures_total", help: "Failed SASL authentications, by mechanism and RFC 6120 §6.5 condition", labelNames: ["mechanism", "condition"], registers,
    });
    this.events = new TalliedCounter({ name: "parley_events_appended_total", help: "Events appended to the log, by type", labelNames: ["type"], registers });
    this.turns = new Histogram({
      name: "parley_turn_seconds", help: "Event-loop turns that wrote or held output: from the first write to the end of the turn; committed=true when it appended events",
      labelNames: ["committed"], buckets: LATENCY_BUCKETS, registers,
    });
    this.commits = new Histogram({ name: "parley_commit_seconds", help: "The turn's COMMIT (group commit, synchronous=NORMAL)", buckets: LATENCY_BUCKETS, registers });
    this.fsyncs = new Histogram({ name: "parley_fsync_seconds", help: "fdatasync of the write-ahead log, off the event loop", buckets: LATENCY_BUCKETS, registers });
    this.outputWaits = new Histogram({
      name: "parley_commit_gate_wait_seconds", help: "Output held after its turn until its events were durable", buckets: LATENCY_BUCKETS, registers,
    });
    const storage = () => this.storageSizes();
    new Gauge({
      name: "parley_database_bytes", help: "The SQLite database and its write-ahead log on disk", labelNames: ["file"], registers,
      collect() {
        for (const [file, suffix] of [["database", ""], ["wal", "-wal"]] as const) {
          const f = sources.databaseFile + suffix;
          this.set({ file }, existsSync(f) ? statSync(f).size : 0);
        }
      },
    });
    new Gauge({
      name: "parley_table_bytes", help: "Bytes of pages of each table and index (SQLite dbstat), refreshed at most once a minute", labelNames: ["table"], registers,
      collect() { for (const [table, bytes] of storage().tables) this.set({ table }, bytes); },
    });
    new Gauge({ name: "parley_offline_messages", help: "Offline messages stored (XEP-0160)", registers, collect() { this.set(storage().offline.messages); } });
    new Gauge({ name: "parley_offline_bytes", help: "Bytes of stored offline messages", registers, collect() { this.set(storage().offline.bytes); } });
    new Gauge({ name: "parley_mam_messages", help: "Messages in the archives (XEP-0313)", registers, collect() { this.set(storage().mam.messages); } });
    new Gauge({ name: "parley_mam_bytes", help: "Bytes of archived messages", registers, collect() { this.set(storage().mam.bytes); } });
    new Gauge({
      name: "parley_upload_bytes", help: "Bytes of uploaded files (HTTP File Upload); 0 when there is no upload directory", registers,
      collect() { this.set(storage().upload?.bytes ?? 0); },
    });
  }

  /** The store's appends, by event type. */
  appended(events: readonly StoredEvent[]): void {
    for (const e of events) this.events.inc(e.type);
  }

  connectionOpened(transport: TransportKind): void {
    this.opened.inc({ transport });
  }

  connectionClosed(transport: TransportKind, reason: CloseReason): void {
    this.closed.inc({ transport, reason });
  }

  stanzaIn(transport: TransportKind, kind: StanzaKind): void {
    this.stanzasIn.inc(transport, kind);
  }

  stanzaOut(transport: TransportKind, kind: StanzaKind): void {
    this.stanzasOut.inc(transport, kind);
  }

  stanzaError(condition: string): void {
    this.stanzaErrors.inc({ condition });
  }

  streamError(condition: string): void {
    this.streamErrors.inc({ condition });
  }

  saslOutcome(mechanism: string, outcome: "success" | "failure", condition?: string): void {
    if (outcome === "success") this.saslSuccesses.inc({ mechanism });
    else this.saslFailures.inc({ mechanism, condition: condition ?? "not-authorized" });
  }

  turn(seconds: number, committed: boolean): void {
    this.turns.observe({ committed: committed ? "true" : "false" }, seconds);
  }

  commit(seconds: number): void {
    this.commits.observe(seconds);
  }

  fsync(seconds: number): void {
    this.fsyncs.observe(seconds);
  }

  outputWait(seconds: number): void {
    this.outputWaits.observe(seconds);
  }

  /** The exposition, in OpenMetrics text format (ends with # EOF). */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private storageSizes(): StorageSizes {
    const now = Date.now();
    if (this.storage && now - this.storage.at < STORAGE_REFRESH_MS) return this.storage;
    const db = this.sources.db;
    const tables = new Map<string, number>();
    for (const row of db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat WHERE aggregate = TRUE GROUP BY name").all() as { name: string; bytes: number }[]) {
      tables.set(row.name, row.bytes);
    }
    const sizeOf = (table: string) =>
      db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(stanza)), 0) AS bytes FROM ${table}`).get() as { n: number; bytes: number };
    const offline = sizeOf("offline_messages");
    const mam = sizeOf("mam_archive");
    this.storage = {
      at: now, tables,
      offline: { messages: offline.n, bytes: offline.bytes },
      mam: { messages: mam.n, bytes: mam.bytes },
      upload: this.sources.uploadDir !== undefined ? directorySize(this.sources.uploadDir) : undefined,
    };
    return this.storage;
  }
}

/** Files and bytes under `dir`, or undefined when it does not exist. */
export function directorySize(dir: string): { files: number; bytes: number } | undefined {
  if (!existsSync(dir)) return undefined;
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        files++;
        bytes += statSync(p).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}
