// An ISO 8601 timestamp, kept for the millisecond it names: every command and
// every append stamps its events (EventMeta.at, recorded_at), thousands of
// times a second, and Date#toISOString costs microseconds each time.

let lastMs = Number.NaN;
let lastIso = "";

/** `new Date(ms).toISOString()`, the string reused while the millisecond is the same. */
export function isoTimestamp(ms: number = Date.now()): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
