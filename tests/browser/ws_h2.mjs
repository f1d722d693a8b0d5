// Loads a page over HTTPS (HTTP/2) in Debian's headless Chromium
// (playwright-core), then opens a WebSocket back to the same origin from it
// and checks the echo. Chromium puts the WebSocket on the page's HTTP/2
// connection (RFC 8441) when the server advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL; the caller reads the net log to see which
// way it went. Usage: node ws_h2.mjs <page-url> <host:port to map to 127.0.0.1:port> <netlog.json>
import { runInChromium } from "./chromium.mjs";

const [url, hostPort, netlog] = process.argv.slice(2);
await runInChromium({ extraArgs: ["--ignore-certificate-errors", `--host-resolver-rules=MAP ${hostPort.split(":")[0]} 127.0.0.1`,
                                  `--log-net-log=${netlog}`, "--net-log-capture-mode=Everything"] }, async (page) => {
  const resp = await page.goto(url);
  console.log("page: " + resp.status() + " " + (await resp.headerValue(":status") ?? "") );
  const echoed = await page.evaluate(() => new Promise((resolve, reject) => {
    const ws = new WebSocket(location.origin.replace("https:", "wss:") + "/echo");
    const got = [];
    ws.onopen = () => { ws.send("hello over h2"); ws.send("second"); };
    ws.onmessage = (m) => { got.push(m.data); if (got.length === 2) { ws.close(1000); resolve(got); } };
    ws.onerror = () => reject(new Error("websocket error"));
    setTimeout(() => reject(new Error("timeout, got " + JSON.stringify(got))), 10000);
  }));
  console.log("echo: " + JSON.stringify(echoed));
  const proto = await page.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
  console.log("page protocol: " + proto);
});
