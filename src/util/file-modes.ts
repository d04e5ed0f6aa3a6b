// The data directory holds SCRAM keys, offline messages and the TLS key: it
// is the server's alone. The directory is made 0700 and its files 0600; ones
// found wider (made by an older version, or by hand) are narrowed at start
// with a warning, and `parley check` reports them.
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

export interface ModeProblem {
  readonly file: string;
  readonly mode: number;
  readonly wanted: number;
}

/** The directory and the files in it (and in its tls/ folder) that others may read or write. */
export function dataDirModeProblems(dataDir: string): ModeProblem[] {
  if (!existsSync(dataDir)) return [];
  const out: ModeProblem[] = [];
  const check = (file: string, wanted: number) => {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) out.push({ file, mode, wanted });
  };
  check(dataDir, DIR_MODE);
  for (const dir of [dataDir, path.join(dataDir, "tls")]) {
    if (!existsSync(dir)) continue;
    if (dir !== dataDir) check(dir, DIR_MODE);
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      const st = statSync(file);
      // The certificate itself is public; its key is not.
      if (st.isFile() && !name.endsWith(".crt")) check(file, FILE_MODE);
    }
  }
  return out;
}

export function describeMode(p: ModeProblem): string {
  return `${p.file} is mode ${p.mode.toString(8).padStart(4, "0")}, readable by others: it should be ${p.wanted.toString(8).padStart(4, "0")}`;
}

/** Creates the data directory 0700 if needed, and narrows whatever is wider; returns what it changed. */
export function secureDataDir(dataDir: string): ModeProblem[] {
  mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
  const problems = dataDirModeProblems(dataDir);
  for (const p of problems) chmodSync(p.file, p.wanted);
  return problems;
}
