// Reading a password for the CLI: from stdin when it is piped (scripts,
// batch provisioning), otherwise from the terminal without echo. Never from
// an argument, where it would land in shell history and `ps`.
import { createInterface } from "node:readline";

export class PasswordInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PasswordInputError";
  }
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = "";
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          finish();
          resolve(value);
          return;
        }
        if (ch === "\u0003") { // Ctrl-C
          finish();
          reject(new PasswordInputError("cancelled"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    stdin.on("data", onData);
  });
}

/** The password for one account: the first line of piped stdin, or typed twice at a prompt. */
export async function readPassword(): Promise<string> {
  let password: string;
  if (!process.stdin.isTTY) {
    const text = await readAllStdin();
    password = text.split(/\r?\n/, 1)[0] ?? "";
  } else {
    password = await promptHidden("Password: ");
    const again = await promptHidden("Repeat password: ");
    if (again !== password) throw new PasswordInputError("the two passwords differ");
  }
  if (password === "") throw new PasswordInputError("the password is empty");
  return password;
}

/** Lines of `jid password` from stdin, for batch provisioning. */
export async function readLines(): Promise<string[]> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const lines: string[] = [];
  for await (const line of rl) if (line.trim() !== "") lines.push(line);
  return lines;
}
