// Output backpressure: how much one connection has been given to send that
// its client has not read yet. Two places hold it: the output gate (a turn's
// writes wait there until the turn's commit is durable, commit-gate.ts) and
// the socket's own write buffer (what the kernel would not take because the
// client's receive window is full). A client that stops reading would
// otherwise grow the server without bound; past the cap it is treated as not
// reading and its stream is closed (RFC 6120 §4.9.3.18 policy-violation).

/** The stream error text a client over the cap gets (and the log line says why). */
export const NOT_READING = "You are not reading what the server sends: too much output is waiting for you";

export class UnsentOutput {
  private held = 0;
  private over = false;

  /**
   * @param max the cap, in bytes (limits.maxUnsentOutputBytes)
   * @param buffered bytes the transport's socket holds unsent (writableLength, WebSocket bufferedAmount)
   * @param overflow called once, when the unsent total first exceeds `max`
   */
  constructor(
    private readonly max: number,
    private readonly buffered: () => number,
    private readonly overflow: (unsent: number) => void,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`the unsent-output cap must be a positive whole number of bytes, not ${max}`);
  }

  /**
   * Counts `bytes` more held for the gate. False once the total is over the
   * cap: the caller drops the output, and `overflow` has been called.
   */
  hold(bytes: number): boolean {
    if (this.over) return false;
    this.held += bytes;
    const unsent = this.held + this.buffered();
    if (unsent <= this.max) return true;
    this.over = true;
    this.overflow(unsent);
    return false;
  }

  /** Held output handed to the socket (or dropped): it no longer counts here; the socket's buffer counts it now. */
  released(bytes: number): void {
    this.held -= bytes;
  }

  /** Bytes written and not yet taken by the kernel: held for the gate plus the socket's buffer. */
  get unsent(): number {
    return this.held + this.buffered();
  }

  /** Whether the cap was exceeded (the stream is being closed). */
  get exceeded(): boolean {
    return this.over;
  }
}
