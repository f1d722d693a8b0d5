// Opens the dashboard in Debian's headless Chromium (playwright-core), tells
// the caller it is loaded, then waits - without reloading the page - for the
// router the caller adds to the configuration to appear, and saves a
// screenshot. Usage: node dashboard.mjs <dashboard-url> <router-name> <screenshot.png>
import { chromium } from "playwright-core";

const [url, router, shot] = process.argv.slice(2);
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
  await page.waitForSelector("#status.ok", { timeout: 15000 });     // first poll done
  await page.waitForSelector('tr[data-router="app@file"]', { timeout: 15000 });
  console.log("loaded");                                            // the caller now adds a router
  await page.waitForSelector(`tr[data-router="${router}"]`, { timeout: 20000 });
  const row = await page.innerText(`tr[data-router="${router}"]`);
  console.log("row: " + row.replace(/\s+/g, " ").trim());
  const navigations = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  console.log("navigations: " + navigations);
  await page.screenshot({ path: shot, fullPage: true });
  if (errors.length) { console.log("page errors: " + errors.join("; ")); status = 1; }
} catch (e) {
  console.log("error: " + e.message);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
