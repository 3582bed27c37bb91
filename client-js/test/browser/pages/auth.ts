// Token authentication in a browser: the page's getToken returns
// window.token, which the test changes; the page shows whom the server
// took each connection for.
import Hotstate from "hotstate/client";

const w = window as unknown as { token: string; asked: number; client: unknown };
w.token = "wrong";
w.asked = 0;
const url = new URL("/ws", location.href);
url.protocol = "ws:";
const client = Hotstate({
  reconnectDelayMs: 100,
  reconnectMaxMs: 500,
  getToken: async () => {
    w.asked++;
    const t = w.token;
    // A refused token is the page's to replace; tok-a is what it "fetches".
    if (t === "wrong") w.token = "tok-a";
    return t;
  },
});
w.client = client;
const out = document.getElementById("root")!;
client.on("connected", () => {
  client.call<string>("whoami").then((user) => {
    out.textContent = user;
    out.dataset.user = user;
  });
});
client.connect(url.href);
