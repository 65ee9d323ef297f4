import { expect, test } from "@playwright/test";
import {
  accountMenu,
  collectProblems,
  databaseRow,
  databasesTable,
  e2eNamespace,
  expectNoProblems,
  expectPath,
  fillDatabaseForm,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
} from "./helpers";

declare global {
  interface Window {
    __cairnMarker?: number;
  }
}

const COLUMNS = ["Name", "Namespace", "Engine", "Version", "Nodes", "Status", "Hostname"];

test("create a PostgreSQL database and watch it become Ready without reloading", async ({ page }, testInfo) => {
  // Login + create + up to 60 s for the simulator to report Ready: more than the default 60 s per test.
  test.setTimeout(120_000);
  const problems = collectProblems(page);
  const dbName = uniqueDbName("pg");

  await login(page);
  await waitForHydration(page);

  // The list page's shape.
  const createLink = page.getByRole("link", { name: "Create database" });
  await expect(createLink).toBeVisible();
  await expect(accountMenu(page)).toBeVisible();

  // The form.
  await createLink.click();
  await expectPath(page, "/databases/new");
  await waitForHydration(page);
  await fillDatabaseForm(page, { name: dbName, namespace: e2eNamespace(), nodes: "1" });
  await page.screenshot({ path: testInfo.outputPath("create-form.png"), fullPage: true });
  await submitDatabaseForm(page);

  // Back on the list, with the new row.
  await expectPath(page, "/");
  await expect(page.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();
  const table = databasesTable(page);
  await expect(table).toBeVisible();
  for (const column of COLUMNS) {
    await expect(table.getByRole("columnheader", { name: column, exact: true })).toBeVisible();
  }
  const row = databaseRow(page, dbName);
  await expect(row).toBeVisible();
  await expect(row.getByText(e2eNamespace(), { exact: true })).toBeVisible();
  await expect(row.getByText("PostgreSQL", { exact: false }).first()).toBeVisible();

  // From here on the page must not be reloaded or navigated: the status has to arrive over the event stream.
  await waitForHydration(page);
  const marker = Math.random();
  await page.evaluate((m) => {
    window.__cairnMarker = m;
  }, marker);
  const navigations: string[] = [];
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });

  await expect(row.getByText("Ready")).toBeVisible({ timeout: 60_000 });

  expect(navigations, "navigations while waiting for Ready").toEqual([]);
  expect(await page.evaluate(() => window.__cairnMarker), "page was not reloaded").toBe(marker);
  await expect(row.getByText("Ready")).toBeVisible();

  await page.screenshot({ path: testInfo.outputPath("databases-list.png"), fullPage: true });
  expectNoProblems(problems);
});
