// The socket's life: opening, turning binary messages into frames, and
// reopening with backoff after a loss until the client is closed.
import { backoffDelay } from "./backoff.js";
import { decodeFrame, encodeFrame, type Frame } from "./protocol.js";

/**
 * WebSocketLike is the part of the WHATWG WebSocket the client uses; the
 * browser's WebSocket and the `ws` package both provide it.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
}

/** WebSocketConstructor builds a WebSocketLike for a URL. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * UrlSource gives the URL of each connection attempt: a fixed string, or a
 * function the client calls before every attempt (to sign the URL, pick a
 * server, add a fresh token).
 */
export type UrlSource = string | (() => string | Promise<string>);

/** Status is where the connection stands. */
export type Status = "disconnected" | "connecting" | "connected" | "reconnecting";

export interface ConnectionOptions {
  reconnect: boolean;
  reconnectDelayMs: number;
  reconnectMaxMs: number;
  WebSocket: WebSocketConstructor | undefined;
  getToken: (() => string | null | undefined | Promise<string | null | undefined>) | undefined;
}

export interface ConnectionEvents {
  open(): void;
  frame(frame: Frame): void;
  /** bad: a message could not be decoded into a frame. */
  bad(err: unknown, bytes: ArrayBuffer | Uint8Array): void;
  /** lost: the socket closed; wasOpen tells whether it had opened, retrying whether another attempt follows. */
  lost(info: { code: number; reason: string }, wasOpen: boolean, retrying: boolean): void;
  retry(info: { attempt: number; delayMs: number }): void;
  status(status: Status): void;
  error(err: unknown): void;
}

const OPEN = 1;
const noop = (): void => {};

export class Connection {
  status: Status = "disconnected";
  #opts: ConnectionOptions;
  #on: ConnectionEvents;
  #ws: WebSocketLike | undefined;
  #url: UrlSource = "";
  #attempt = 0;
  // begun counts the attempts begun; one whose URL or token is still on
  // its way when another begins, or the connection is closed, is dropped.
  #begun = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // wanted is true between connect and close: a loss is then retried.
  #wanted = false;

  constructor(opts: ConnectionOptions, events: ConnectionEvents) {
    this.#opts = opts;
    this.#on = events;
  }

  get isOpen(): boolean {
    return this.#ws?.readyState === OPEN && this.status === "connected";
  }

  connect(url: UrlSource): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#url = url;
    this.#wanted = true;
    this.#attempt = 0;
    // Replacing a socket: the client is told of the loss, not of a retry.
    if (this.#ws) this.#lose(this.#ws, 1000, "client reconnecting", true);
    this.#open(true);
  }

  /** close ends the connection and stops reconnecting. */
  close(): void {
    this.#wanted = false;
    this.#begun++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#ws) this.#lose(this.#ws, 1000, "client closed");
    else this.#setStatus("disconnected");
  }

  /** healthy resets the backoff: the server has greeted this connection. */
  healthy(): void {
    this.#attempt = 0;
  }

  /** send writes a frame, or its encoding, when the socket is open and reports whether it did. */
  send(frame: Frame | Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.#ws!.send(frame instanceof Uint8Array ? frame : encodeFrame(frame));
    return true;
  }

  /** drop closes the socket with code and lets the usual retry follow. */
  drop(code: number, reason: string): void {
    if (this.#ws) this.#lose(this.#ws, code, reason);
  }

  #setStatus(s: Status): void {
    if (this.status !== s) {
      this.status = s;
      this.#on.status(s);
    }
  }

  #open(first: boolean): void {
    this.#timer = undefined;
    const Ctor = this.#opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new Error("hotstate: no WebSocket here; pass one as the WebSocket option (for Node: the ws package)");
    const url = this.#url;
    const getToken = this.#opts.getToken;
    const begun = ++this.#begun;
    if (typeof url === "string" && !getToken) return this.#dial(Ctor, url, first, begun, first);
    this.#setStatus(first ? "connecting" : "reconnecting");
    // Called anew for every attempt, so that a reconnection never offers a
    // token that expired while the connection was up.
    (async () => {
      const base = typeof url === "string" ? url : await url();
      const token = getToken && (await getToken());
      return token ? base + (base.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : base;
    })().then(
      (u) => this.#dial(Ctor, u, first, begun, false),
      (err) => {
        if (begun !== this.#begun) return;
        this.#on.error(err);
        this.#failed();
      },
    );
  }

  /**
   * dial opens a socket to url unless attempt begun has been superseded.
   * With strict, a URL the constructor refuses is thrown to the caller of
   * connect: it will not get better by waiting.
   */
  #dial(Ctor: WebSocketConstructor, url: string, first: boolean, begun: number, strict: boolean): void {
    if (begun !== this.#begun || !this.#wanted) return;
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url);
    } catch (err) {
      if (strict) throw err;
      this.#on.error(err);
      this.#failed();
      return;
    }
    this.#setStatus(first ? "connecting" : "reconnecting");
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      this.#setStatus("connected");
      this.#on.open();
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      this.#lose(ws, ev?.code ?? 1006, ev?.reason ?? "");
    };
    ws.onerror = noop; // a close event always follows
    ws.onmessage = (ev: { data: unknown }) => {
      const data = ev.data;
      if (typeof data === "string") {
        this.#lose(ws, 1003, "binary frames only");
        return;
      }
      let frame: Frame;
      try {
        frame = decodeFrame(data as ArrayBuffer | Uint8Array);
      } catch (err) {
        this.#on.bad(err, data as ArrayBuffer | Uint8Array);
        return;
      }
      this.#on.frame(frame);
    };
  }

  /** lose forgets ws, closing it with code, and tells the client. */
  #lose(ws: WebSocketLike, code: number, reason: string, replacing = false): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    const wasOpen = this.status === "connected";
    ws.onopen = ws.onclose = ws.onmessage = null;
    try {
      ws.close(code, reason);
    } catch {
      // Browsers let a page send only 1000 and 3000-4999, and a socket that
      // failed to open may refuse to close; it is gone either way.
      try {
        ws.close();
      } catch {}
    }
    const retry = this.#wanted && !replacing && this.#opts.reconnect;
    this.#setStatus("disconnected");
    this.#on.lost({ code, reason }, wasOpen, retry || (this.#wanted && replacing));
    if (retry) this.#retry();
  }

  /** failed ends an attempt that made no socket as one whose socket never opened would end. */
  #failed(): void {
    if (this.#opts.reconnect) return this.#retry();
    this.#setStatus("disconnected");
    this.#on.lost({ code: 1006, reason: "" }, false, false);
  }

  #retry(): void {
    if (!this.#wanted || this.#timer !== undefined) return;
    const attempt = this.#attempt++;
    const delayMs = backoffDelay(attempt, this.#opts.reconnectDelayMs, this.#opts.reconnectMaxMs);
    this.#setStatus("reconnecting");
    this.#on.retry({ attempt: attempt + 1, delayMs });
    this.#timer = setTimeout(() => {
      if (this.#wanted) this.#open(false);
    }, delayMs);
  }
}
