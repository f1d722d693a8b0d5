// Opens the dashboard in Debian's headless Chromium (playwright-core), waits
// for the rows of a UDP entry point, UDP routers and a UDP service, and
// prints each as "<kind> <name>: <row text>" for the caller to check.
// Usage: node dashboard_udp.mjs <dashboard-url> <entrypoint> <router>... <service>
import { chromium } from "playwright-core";

const [url, entrypoint, ...rest] = process.argv.slice(2);
const service = rest.pop();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let status = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector("#status.ok", { timeout: 15000 });
  const rows = [["entrypoint", entrypoint, `tr[data-entrypoint="${entrypoint}"]`],
                ...rest.map((r) => ["router", r, `tr[data-udp-router="${r}"]`]),
                ["service", service, `tr[data-udp-service="${service}"]`]];
  for (const [kind, name, selector] of rows) {
    await page.waitForSelector(selector, { timeout: 15000 });
    const text = await page.innerText(selector);
    console.log(`${kind} ${name}: ` + text.replace(/\s+/g, " ").trim());
  }
  if (!(await page.isVisible("#udp"))) { console.log("the UDP section is hidden"); status = 1; }
  if (errors.length) { console.log("page errors: " + errors.join("; ")); status = 1; }
} catch (e) {
  console.log("error: " + e.message);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
