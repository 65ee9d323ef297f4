import { expect, test } from "@playwright/test";
import {
  collectProblems,
  databaseRow,
  expectNoProblems,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
} from "./helpers";

// PostgreSQL has its own, more detailed flow (create-database.spec.ts).
for (const [engine, prefix] of [
  ["MySQL", "my"],
  ["MongoDB", "mongo"],
] as const) {
  test(`create a ${engine} database and watch it become Ready`, async ({ page }, testInfo) => {
    test.setTimeout(120_000);
    const problems = collectProblems(page);
    const dbName = uniqueDbName(prefix);

    await login(page);
    await gotoWithRetry(page, "/databases/new");
    await waitForHydration(page);
    await fillDatabaseForm(page, { name: dbName, engine, nodes: "1" });
    await page.screenshot({ path: testInfo.outputPath(`create-form-${prefix}.png`), fullPage: true });
    await submitDatabaseForm(page);

    await expectPath(page, "/");
    const row = databaseRow(page, dbName);
    await expect(row).toBeVisible();
    await expect(row.getByRole("cell", { name: engine, exact: true })).toBeVisible();
    await expect(row.getByText("Ready")).toBeVisible({ timeout: 60_000 });
    await page.screenshot({ path: testInfo.outputPath(`databases-list-${prefix}.png`), fullPage: true });
    expectNoProblems(problems);
  });
}
