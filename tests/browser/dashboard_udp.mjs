// Opens the dashboard in Debian's headless Chromium (playwright-core), waits
// for the rows of a UDP entry point, UDP routers and a UDP service, and
// prints each as "<kind> <name>: <row text>" for the caller to check.
// Usage: node dashboard_udp.mjs <dashboard-url> <entrypoint> <router>... <service>
import { runInChromium } from "./chromium.mjs";

const [url, entrypoint, ...rest] = process.argv.slice(2);
const service = rest.pop();
await runInChromium({ viewport: { width: 1400, height: 900 } }, async (page) => {
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
  if (!(await page.isVisible("#udp"))) { console.log("the UDP section is hidden"); return false; }
  return true;
});
