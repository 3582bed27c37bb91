// An in-memory WebSocket for the unit tests of the client's own logic: the
// test plays the server's part frame by frame. Everything the client does
// against a real server is covered by test/integration.
import type { WebSocketConstructor, WebSocketLike } from "../../src/client.js";
import { decodeFrame, encodeFrame, type Frame } from "../../src/protocol.js";

export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  sent: Frame[] = [];
  closedWith: number | undefined;
  onopen: ((ev: any) => void) | null = null;
  onclose: ((ev: any) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  onmessage: ((ev: any) => void) | null = null;

  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(decodeFrame(data));
  }

  close(code?: number): void {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }

  // The server's side.

  open(clientId = "c1"): void {
    this.readyState = 1;
    this.onopen?.({});
    this.receive({ t: 16, p: 1, c: clientId });
  }

  receive(frame: Frame): void {
    this.receiveBytes(encodeFrame(frame));
  }

  /** receiveBytes delivers a message as it is, for frames encodeFrame would not write. */
  receiveBytes(bytes: Uint8Array): void {
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }

  /** take returns the frames sent since the last take. */
  take(): Frame[] {
    return this.sent.splice(0);
  }
}

/** fakeWebSocket returns a constructor for the client and the sockets it made. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  class WS extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: WS, sockets, last: () => sockets[sockets.length - 1]! };
}
