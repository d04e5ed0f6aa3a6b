// The shapes every event shares. Domain events (accounts, roster, blocking)
// narrow `type` and `payload`.

/** Who caused an event: the log answers "why" with this. */
export type EventCause =
  | { kind: "user"; resource: string }
  | { kind: "contact"; jid: string }
  | { kind: "server"; reason: string }
  | { kind: "admin"; tool: string };

export interface EventMeta {
  by: EventCause;
  /** When the decision was made (ISO-8601 UTC), passed in as data. */
  at: string;
  correlationId?: string;
}

export interface NewEvent<T extends string = string, P = unknown> {
  type: T;
  payload: P;
  schemaVersion?: number;
  meta: EventMeta;
}

export interface StoredEvent<T extends string = string, P = unknown> {
  seq: number;
  streamId: string;
  streamVersion: number;
  type: T;
  schemaVersion: number;
  payload: P;
  meta: EventMeta;
  recordedAt: string;
}

export const accountStreamId = (bareJid: string): string => `account:${bareJid}`;
