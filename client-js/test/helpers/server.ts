// Runs the real Go examples/todo server (or examples/jstest) on a free
// loopback port.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { inject } from "vitest";

/**
 * freePort finds a port nobody listens on, below Linux's ephemeral range
 * (32768 and up) so that no outgoing connection of the tests takes it
 * between the check and the server's listen.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface ServerOptions {
  port?: number;
  /** web is a directory of a page for the todo server to serve. */
  web?: string;
  /** program is the server to run; the todo example by default. */
  program?: "todoServer" | "jstestServer";
  /** args go to the program after -host and -port. */
  args?: string[];
}

export class TodoServer {
  readonly port: number;
  readonly web: string | undefined;
  #opts: ServerOptions;
  #proc: ChildProcess | undefined;
  log = "";

  private constructor(port: number, opts: ServerOptions) {
    this.port = port;
    this.web = opts.web;
    this.#opts = opts;
  }

  /** start runs a server on port, or on a free one, and waits until it listens. */
  static async start(opts: ServerOptions = {}): Promise<TodoServer> {
    for (let tries = 1; ; tries++) {
      const s = new TodoServer(opts.port ?? (await freePort()), opts);
      try {
        await s.start();
        return s;
      } catch (err) {
        // Another process may take a free port before the server does.
        if (opts.port !== undefined || tries === 5 || !s.log.includes("address already in use")) throw err;
      }
    }
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    const args = ["-host", "127.0.0.1", "-port", String(this.port)];
    if (this.web) args.push("-web", this.web);
    args.push(...(this.#opts.args ?? []));
    const proc = spawn(inject(this.#opts.program ?? "todoServer"), args, { stdio: ["ignore", "ignore", "pipe"] });
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server did not start:\n" + this.log)), 15_000);
      proc.stderr!.setEncoding("utf8");
      proc.stderr!.on("data", (chunk: string) => {
        this.log += chunk;
        if (this.log.includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}:\n${this.log}`));
      });
    });
  }

  /** stop kills the process (SIGKILL by default: a crash, no goodbye to clients) and waits for it. */
  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill(signal);
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
