// A TCP proxy between the client and the server that the test can pause
// (bytes are held, connections stay up: a server that stops answering),
// cut (every connection is destroyed) or slow down.
import { createServer, connect, type Server, type Socket } from "node:net";

interface Pipe {
  queue: Array<{ chunk: Buffer; at: number }>;
  timer: ReturnType<typeof setTimeout> | undefined;
  pump(): void;
}

export class Proxy {
  readonly port: number;
  /** paused holds the server's bytes; pausedUp holds the client's. */
  paused = false;
  pausedUp = false;
  delayMs = 0;
  #server: Server;
  #pipes = new Set<Pipe>();
  #sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<Proxy> {
    let proxy!: Proxy;
    const server = createServer((client) => proxy.#accept(client, targetPort));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    proxy = new Proxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get connections(): number {
    return this.#sockets.size / 2;
  }

  #accept(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    this.#pipe(client, upstream, () => this.pausedUp);
    this.#pipe(upstream, client, () => this.paused);
  }

  #pipe(from: Socket, to: Socket, held: () => boolean): void {
    const p: Pipe = {
      queue: [],
      timer: undefined,
      pump: () => {
        clearTimeout(p.timer);
        p.timer = undefined;
        while (p.queue.length && !held()) {
          const wait = p.queue[0]!.at + this.delayMs - Date.now();
          if (wait > 0) {
            p.timer = setTimeout(p.pump, wait);
            return;
          }
          const { chunk } = p.queue.shift()!;
          if (!to.destroyed) to.write(chunk);
        }
      },
    };
    this.#pipes.add(p);
    from.on("close", () => {
      clearTimeout(p.timer);
      this.#pipes.delete(p);
    });
    from.on("data", (chunk: Buffer) => {
      p.queue.push({ chunk, at: Date.now() });
      if (!p.timer) p.pump();
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pausedUp = false;
    for (const p of this.#pipes) p.pump();
  }

  /** cut destroys every proxied connection; new ones are still accepted. */
  cut(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
