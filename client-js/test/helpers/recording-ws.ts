// The ws package's WebSocket, recording every frame the client sends and
// receives, so tests can check what went over the wire.
import WebSocket from "ws";
import { decodeFrame, type Frame } from "../../src/protocol.js";

export interface Wire {
  WebSocket: typeof WebSocket;
  sent: Frame[];
  received: Frame[];
}

export function recordingWebSocket(): Wire {
  const wire: Wire = { WebSocket, sent: [], received: [] };
  wire.WebSocket = class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener("message", (ev) => {
        wire.received.push(decodeFrame(new Uint8Array(ev.data as ArrayBuffer)));
      });
    }

    override send(data: Uint8Array): void {
      wire.sent.push(decodeFrame(data));
      super.send(data);
    }
  } as typeof WebSocket;
  return wire;
}
