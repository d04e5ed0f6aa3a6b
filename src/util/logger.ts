// Structured logging on pino: one JSON object per line on stderr, with the
// level, time, message and fields such as the session id, so lines can be
// filtered by session. Passwords and SASL payloads are never passed as
// fields; `password` and `payload` are redacted all the same.
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger } from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export type LogFields = Record<string, string | number | boolean | undefined>;

const ORDER: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

export class Logger {
  private readonly impl: PinoLogger;
  /**
   * The level, shared by this logger and every child made from it, so that
   * one setLevel (SIGHUP, issue 20 part 4) reaches the loggers modules and
   * sessions already hold. Pino itself logs everything from debug up; the
   * filtering is here.
   */
  private readonly shared: { level: LogLevel };

  constructor(level: LogLevel = "info", impl?: PinoLogger, shared?: { level: LogLevel }) {
    this.shared = shared ?? { level };
    this.impl = impl ?? pino({
      level: "debug",
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ["password", "payload", "*.password", "*.payload"], censor: "[redacted]" },
    }, destination({ dest: 2, sync: true }));
  }

  child(fields: LogFields): Logger {
    return new Logger(this.shared.level, this.impl.child(fields), this.shared);
  }

  get level(): LogLevel {
    return this.shared.level;
  }

  /** Changes the level of this logger and of all its children, old and new. */
  setLevel(level: LogLevel): void {
    this.shared.level = level;
  }

  enabled(level: LogLevel): boolean {
    return level !== "silent" && ORDER[level] >= ORDER[this.shared.level];
  }

  debug(msg: string, fields?: LogFields): void { if (this.enabled("debug")) this.impl.debug(fields ?? {}, msg); }
  info(msg: string, fields?: LogFields): void { if (this.enabled("info")) this.impl.info(fields ?? {}, msg); }
  warn(msg: string, fields?: LogFields): void { if (this.enabled("warn")) this.impl.warn(fields ?? {}, msg); }
  error(msg: string, fields?: LogFields): void { if (this.enabled("error")) this.impl.error(fields ?? {}, msg); }
}
