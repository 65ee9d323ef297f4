import { expect, test, type Locator, type Page } from "@playwright/test";
import {
  databaseRow,
  e2eNamespace,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  uniqueDbName,
  waitForHydration,
  wizardStep,
} from "./helpers";

// The create wizard: created with the keyboard only, the size presets, the Preview of exactly what Cairn
// will write (nothing created by it), and the cancel confirmation. Screenshots at 390 and 1440 px wide.

async function openWizard(page: Page): Promise<void> {
  await login(page);
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
}

/** Presses Tab until `target` has the focus (at most `max` times). */
async function tabTo(page: Page, target: Locator, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`could not reach ${target} with Tab`);
}

test("create a database with the keyboard only", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const name = uniqueDbName("kbd");
  await openWizard(page);
  // From the top of the page: Tab to the name, type, and walk the steps with Next and Enter.
  await page.keyboard.press("Tab");
  await tabTo(page, page.getByLabel("Name", { exact: true }));
  await page.keyboard.type(name);
  await tabTo(page, page.getByLabel("Namespace", { exact: true }));
  await expect(page.getByLabel("Namespace", { exact: true })).toHaveValue(e2eNamespace());
  for (const next of ["Next: Resources", "Next: Backups", "Next: Advanced configuration", "Next: Monitoring"]) {
    await tabTo(page, page.getByRole("button", { name: next }));
    await page.keyboard.press("Enter");
    const title = next.replace("Next: ", "");
    await expect(page.getByRole("heading", { name: new RegExp(`^\\d\\. ${title}$`) })).toBeVisible();
  }
  // The summary followed what was typed, and the defaults of a PostgreSQL database.
  const summary = page.getByRole("complementary", { name: "Summary" });
  await expect(summary).toContainText(name);
  await expect(summary).toContainText("1 CPU, 2G memory, 25G disk");
  await page.screenshot({ path: testInfo.outputPath("wizard-keyboard-1440.png"), fullPage: true });
  await tabTo(page, page.getByRole("button", { name: "Create database" }));
  await page.keyboard.press("Enter");

  await expectPath(page, "/");
  await expect(databaseRow(page, name).getByText("Ready")).toBeVisible({ timeout: 60_000 });
  const spec = (await (await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}`)).json()).spec;
  // PostgreSQL's default: 2 nodes of the small size.
  expect(spec.engine.replicas).toBe(2);
  expect(spec.engine.resources).toEqual({ cpu: "1", memory: "2G" });
  expect(spec.engine.storage.size).toBe("25G");
});

test("size presets follow the engine", async ({ page }) => {
  await openWizard(page);
  await wizardStep(page, "Resources");
  const size = page.getByLabel("Size per node");
  const [cpu, memory, disk] = ["CPU", "Memory", "Disk"].map((l) => page.getByLabel(l, { exact: true }));
  await size.selectOption({ label: "Medium" });
  await expect(cpu).toHaveValue("4");
  await expect(memory).toHaveValue("8G");
  await expect(disk).toHaveValue("100G");
  await size.selectOption({ label: "Large" });
  await expect(memory).toHaveValue("32G");
  await expect(disk).toHaveValue("200G");
  // Editing a value makes the size custom.
  await cpu.fill("3");
  await expect(size).toHaveValue("custom");
  await size.selectOption({ label: "Small" });
  await wizardStep(page, "Basic information");
  await page.getByLabel("Engine", { exact: true }).selectOption({ label: "MongoDB" });
  await wizardStep(page, "Resources");
  await expect(memory).toHaveValue("4G");
  await expect(page.getByLabel("Nodes", { exact: true }).getByRole("option")).toHaveText(["1", "3", "5"]);
  await expect(page.getByLabel("Nodes", { exact: true })).toHaveValue("3");
});

test("the preview shows exactly what Cairn will write, and writes nothing", async ({ page }, testInfo) => {
  const name = uniqueDbName("prev");
  await openWizard(page);
  await fillDatabaseForm(page, { name, nodes: "1" });
  await wizardStep(page, "Advanced configuration");
  await page.getByLabel("Engine parameters").fill("max_connections = 123");
  await page.getByRole("button", { name: "Preview" }).click();
  const panel = page.getByRole("region", { name: "Preview" });
  const cluster = panel.getByLabel("DatabaseCluster YAML");
  await expect(cluster).toContainText("kind: DatabaseCluster");
  await expect(cluster).toContainText(`name: ${name}`);
  await expect(cluster).toContainText("max_connections = 123");
  const upstream = panel.getByLabel("PerconaPGCluster YAML");
  await expect(upstream).toContainText("kind: PerconaPGCluster");
  await expect(upstream).toContainText("max_connections");
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    // The YAML scrolls inside its box; the page itself never scrolls sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth), `wizard at ${width} px`).toBeLessThanOrEqual(width);
    await page.screenshot({ path: testInfo.outputPath(`wizard-preview-${width}.png`), fullPage: true });
  }
  const response = await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}`);
  expect(response.status()).toBe(404);

  // A broken field: the preview names it beside the field instead.
  await page.setViewportSize({ width: 1280, height: 900 });
  await wizardStep(page, "Resources");
  await page.getByLabel("Memory", { exact: true }).fill("100M");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.locator("#memory-error")).toContainText("Memory");
});

test("cancelling asks first; Escape keeps the form", async ({ page }) => {
  await openWizard(page);
  await page.getByLabel("Name", { exact: true }).fill("not-created");
  await page.getByRole("link", { name: "Cancel" }).click();
  const dialog = page.getByRole("dialog", { name: "Discard this database?" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Keep editing" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("not-created");
  await page.getByRole("link", { name: "Cancel" }).click();
  await dialog.getByRole("link", { name: "Discard" }).click();
  await expectPath(page, "/");
});
