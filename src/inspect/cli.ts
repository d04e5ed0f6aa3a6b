// `parley inspect` in the foreground: serve until SIGINT/SIGTERM, then close
// the store. The argument checks are in src/cli/main.ts.
import type { EventStore } from "../events/store.js";
import { startInspector } from "./server.js";

export interface InspectCommand {
  store: EventStore;
  databaseFile: string;
  host: string;
  port: number;
  token: string | undefined;
  out: (line: string) => void;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function runInspector(c: InspectCommand): Promise<number> {
  let inspector;
  try {
    inspector = await startInspector({ store: c.store, databaseFile: c.databaseFile, host: c.host, port: c.port, ...(c.token !== undefined ? { token: c.token } : {}) });
  } catch (err) {
    c.store.close();
    throw err;
  }
  if (!LOOPBACK.test(c.host)) c.out(`warning: serving beyond loopback (${c.host}); anyone holding the token can read every user's roster`);
  c.out(`parley inspect: ${c.databaseFile}`);
  c.out(`open ${inspector.url}`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await inspector.close();
  c.store.close();
  return 0;
}
