// Structured logging on pino: one JSON object per line on stderr, with the
// level, time, message and fields such as the session id, so lines can be
// filtered by session. Passwords and SASL payloads are never passed as
// fields; `password` and `payload` are redacted all the same.
import { pino, destination, stdTimeFunctions, type Logger as PinoLogger } from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export type LogFields = Record<string, string | number | boolean | undefined>;

export class Logger {
  private readonly impl: PinoLogger;

  constructor(level: LogLevel = "info", impl?: PinoLogger) {
    this.impl = impl ?? pino({
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ["password", "payload", "*.password", "*.payload"], censor: "[redacted]" },
    }, destination({ dest: 2, sync: true }));
  }

  child(fields: LogFields): Logger {
    return new Logger(this.impl.level as LogLevel, this.impl.child(fields));
  }

  enabled(level: LogLevel): boolean {
    return level !== "silent" && this.impl.isLevelEnabled(level);
  }

  debug(msg: string, fields?: LogFields): void { this.impl.debug(fields ?? {}, msg); }
  info(msg: string, fields?: LogFields): void { this.impl.info(fields ?? {}, msg); }
  warn(msg: string, fields?: LogFields): void { this.impl.warn(fields ?? {}, msg); }
  error(msg: string, fields?: LogFields): void { this.impl.error(fields ?? {}, msg); }
}
