import { expect, test, type Page } from "@playwright/test";
import {
  databaseRow,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForDatabaseList,
  waitForHydration,
} from "./helpers";

// Each case: the form input, the field whose alert must show, and the name to look for in the list afterwards.
const cases: { title: string; name: string; memory?: string; field: RegExp; screenshot?: string }[] = [
  { title: "a name that is not an RFC 1123 label", name: "Invalid_Name!", field: /\bName\b/, screenshot: "validation-name.png" },
  { title: "a name longer than 22 characters", name: "a-name-that-is-way-too-long-for-cairn", field: /\bName\b/ },
  { title: "memory below the minimum", name: uniqueDbName("mem"), memory: "100M", field: /\bMemory\b/ },
];

async function openForm(page: Page): Promise<void> {
  await gotoWithRetry(page, "/databases/new");
  await expectPath(page, "/databases/new");
  await waitForHydration(page);
}

test.describe("create database form validation", () => {
  test.beforeEach(async ({ page }) => {
    await login(page);
  });

  for (const c of cases) {
    test(`rejects ${c.title}`, async ({ page }, testInfo) => {
      await openForm(page);
      await fillDatabaseForm(page, { name: c.name, memory: c.memory });
      await submitDatabaseForm(page);

      // The form stays, with an alert naming the field.
      const alert = page.getByRole("alert").filter({ hasText: c.field });
      await expect(alert.first()).toBeVisible();
      await expectPath(page, "/databases/new");
      await expect(page.getByRole("heading", { name: "Create database" })).toBeVisible();
      if (c.screenshot) {
        await page.screenshot({ path: testInfo.outputPath(c.screenshot), fullPage: true });
      }

      // Nothing was created.
      await page.goto("/");
      await waitForDatabaseList(page);
      await expect(databaseRow(page, c.name)).toHaveCount(0);
    });
  }
});
