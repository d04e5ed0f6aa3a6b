// A small structured logger: one line per record on stderr, `key=value`
// fields after the message, so a line can be grepped by session id.
// Never pass passwords or SASL payloads as fields.

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, string | number | boolean | undefined>;

export class Logger {
  constructor(
    private readonly level: LogLevel = "info",
    private readonly fields: LogFields = {},
    private readonly sink: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  ) {}

  child(fields: LogFields): Logger {
    return new Logger(this.level, { ...this.fields, ...fields }, this.sink);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }

  debug(msg: string, fields?: LogFields): void { this.write("debug", msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write("info", msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write("warn", msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write("error", msg, fields); }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < ORDER[this.level]) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
    const all = fields ? { ...this.fields, ...fields } : this.fields;
    for (const k in all) {
      const v = all[k];
      if (v === undefined) continue;
      const s = String(v);
      line += ` ${k}=${/[\s"=]/.test(s) ? JSON.stringify(s) : s}`;
    }
    this.sink(line);
  }
}
