import { expect, test } from "@playwright/test";
import { e2eNamespace, gotoWithRetry, login, uniqueDbName, waitForHydration, wizardStep } from "./helpers";

// The stack's simulator serves a PMM 3 stand-in (user admin, password admin) at CAIRN_PMM_URL.
function pmmUrl(): string {
  const url = process.env.CAIRN_PMM_URL;
  if (!url) throw new Error("CAIRN_PMM_URL is not set (the PMM stand-in of the stack under test)");
  return url;
}

test("add a monitoring endpoint, refuse a wrong password beside its field, create a monitored database, turn its monitoring off and on", async ({ page }) => {
  await login(page);
  await gotoWithRetry(page, "/settings/monitoring-endpoints");
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Monitoring endpoints" })).toBeVisible();

  const endpoint = uniqueDbName("pmm");
  await page.getByLabel("Name", { exact: true }).fill(endpoint);
  await page.getByLabel("PMM server URL").fill(pmmUrl());
  await page.getByLabel("PMM user").fill("admin");
  await page.getByLabel("PMM password").fill("wrong-password");
  await page.getByRole("button", { name: "Add endpoint" }).click();
  await expect(page.locator("#add-password-error")).toContainText("refused this user and password");
  await expect(page.getByRole("cell", { name: endpoint, exact: true })).toHaveCount(0);

  await page.getByLabel("PMM password").fill("admin");
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const row = page.getByRole("row").filter({ has: page.getByRole("cell", { name: endpoint, exact: true }) });
  await expect(row).toBeVisible();
  await expect(row).toContainText("3.1.0");
  await page.screenshot({ path: "test-results/monitoring-endpoints.png", fullPage: true });

  // The create form's monitoring step offers it; the list shows it in the Monitoring column.
  const db = uniqueDbName("mon");
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
  await page.getByLabel("Name", { exact: true }).fill(db);
  await page.getByLabel("Namespace").selectOption(e2eNamespace());
  await wizardStep(page, "Monitoring");
  await page.getByLabel("Monitor this database").check();
  await page.getByLabel("Monitoring endpoint").selectOption(endpoint);
  await page.getByRole("button", { name: "Create database" }).click();
  const dbRow = page.getByRole("row").filter({ has: page.getByRole("cell", { name: db, exact: true }) });
  await expect(dbRow).toBeVisible();
  await expect(dbRow).toContainText(endpoint);

  // In use: the endpoint cannot be deleted.
  await gotoWithRetry(page, "/settings/monitoring-endpoints");
  await waitForHydration(page);
  await expect(row).toContainText("in use");
  await expect(page.getByRole("button", { name: `Delete ${endpoint}` })).toHaveCount(0);

  // The database's page: its Monitoring card turns monitoring off, and on again with the endpoint chosen.
  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${db}`);
  await waitForHydration(page);
  const card = page.locator("section", { has: page.getByRole("heading", { name: "Monitoring", exact: true }) });
  await expect(card).toContainText(`On, reporting to ${endpoint}`);
  await card.getByRole("button", { name: "Turn monitoring off" }).click();
  await expect(card).toContainText("Off");
  await expect(card.getByRole("button", { name: "Turn monitoring on" })).toBeVisible();
  // No database uses the endpoint any more: it can be deleted again.
  // (The page reads the endpoint's status once; the controller clears inUse right after the change.)
  await expect(async () => {
    await gotoWithRetry(page, "/settings/monitoring-endpoints");
    await waitForHydration(page);
    await expect(row).toBeVisible();
    await expect(row).not.toContainText("in use", { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByRole("button", { name: `Delete ${endpoint}` })).toBeVisible();

  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${db}`);
  await waitForHydration(page);
  await card.getByLabel("Monitoring endpoint").selectOption(endpoint);
  await card.getByRole("button", { name: "Turn monitoring on" }).click();
  await expect(card).toContainText(`On, reporting to ${endpoint}`);
});
