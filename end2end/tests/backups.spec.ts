import { expect, test } from "@playwright/test";
import {
  collectProblems,
  e2eNamespace,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  s3,
  screenshotBothWidths,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
  wizardStep,
} from "./helpers";

test("add a storage location, create a database with a schedule and PITR, back it up now, restore it into a new database", async ({
  page,
}, testInfo) => {
  test.setTimeout(240_000);
  const problems = collectProblems(page, [400, 409]);
  const store = s3();
  await login(page);

  // Settings → Storage locations: a wrong secret key is refused beside the access key field, then it is added.
  await gotoWithRetry(page, "/settings/storage-locations");
  await waitForHydration(page);
  await expect(page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Storage locations" })).toHaveAttribute(
    "aria-current",
    "page",
  );
  const storage = uniqueDbName("s3");
  await page.getByLabel("Name", { exact: true }).fill(storage);
  await page.getByLabel("Namespace").selectOption(e2eNamespace());
  await page.getByLabel("Type").selectOption("s3");
  await page.getByLabel("Bucket (or Azure container)").fill(store.bucket);
  await page.getByLabel("Region").fill("us-east-1");
  await page.getByLabel("Endpoint URL").fill(store.endpoint);
  await page.getByLabel("Access key (Azure: account name)").fill(store.accessKey);
  await page.getByLabel("Secret key (Azure: account key)").fill("not-the-secret");
  await page.getByLabel("Path-style URLs (most S3-compatible servers)").check();
  await page.getByRole("button", { name: "Add storage location" }).click();
  await expect(page.locator("#add-access_key-error")).toContainText("access check failed");
  await expect(page.getByRole("heading", { name: storage, exact: true })).toHaveCount(0);
  await page.getByLabel("Secret key (Azure: account key)").fill(store.secretKey);
  await page.getByRole("button", { name: "Add storage location" }).click();
  await expect(page.getByRole("heading", { name: storage, exact: true })).toBeVisible({ timeout: 30_000 });
  await screenshotBothWidths(page, testInfo, "storage-locations");

  // The create form's backup step: a daily schedule (its next runs shown) and point-in-time recovery.
  const db = uniqueDbName("bk");
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
  await fillDatabaseForm(page, { name: db, engine: "MySQL" });
  await wizardStep(page, "Backups");
  await page.getByLabel("Back up on a schedule").check();
  await page.getByLabel("Frequency").selectOption("daily");
  await page.getByLabel("Time (UTC)").fill("02:30");
  await expect(page.getByText("Every day at 02:30 UTC")).toBeVisible();
  await expect(page.getByText(/Next runs: .*02:30 UTC/)).toBeVisible();
  await page.getByLabel("Copies to keep").fill("5");
  await page.getByLabel("Storage location", { exact: true }).selectOption(storage);
  await page.getByLabel("Enable point-in-time recovery").check();
  await page.getByLabel("Storage for the logs").selectOption(storage);
  await submitDatabaseForm(page);
  await expect(page.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();

  // Its Backups tab shows the schedule in words and PITR on; "Back up now" succeeds, live.
  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${db}/backups`);
  await waitForHydration(page);
  const schedules = page.getByRole("list", { name: "Schedules" });
  await expect(schedules).toContainText("daily-backup");
  await expect(schedules).toContainText("Every day at 02:30 UTC");
  await expect(schedules).toContainText("Keeps 5 copies");
  await expect(page.getByRole("region", { name: "Point-in-time recovery" }).or(page.locator("section[aria-labelledby=pitr-title]"))).toContainText(
    `On: the database's logs go to ${storage}`,
  );
  await page.getByRole("button", { name: "Back up now" }).click();
  const dialog = page.getByRole("dialog", { name: "Back up now" });
  await dialog.getByLabel("Storage location").selectOption(storage);
  await dialog.getByRole("button", { name: "Start backup" }).click();
  const backups = page.getByRole("list", { name: "Backups" });
  await expect(backups.getByRole("listitem").first()).toContainText("Succeeded", { timeout: 120_000 });
  const backupName = (await backups.getByRole("listitem").first().locator("span.break-all").first().textContent())!.trim();
  await screenshotBothWidths(page, testInfo, "database-backups");

  // Restore it into a new database: the create form opens with the backup as its data source.
  await page.getByRole("button", { name: `Restore from ${backupName}` }).click();
  const restore = page.getByRole("dialog", { name: "Restore" });
  await restore.getByLabel("A new database (opens the create form)").check();
  await restore.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/databases\/new\?.*from_backup=/);
  await waitForHydration(page);
  const restored = uniqueDbName("rs");
  await fillDatabaseForm(page, { name: restored, engine: "MySQL" });
  await wizardStep(page, "Backups");
  await expect(page.getByText(`This database starts from backup ${backupName}`)).toBeVisible();
  await submitDatabaseForm(page);
  await expect(page.getByRole("heading", { name: "Databases", level: 1 })).toBeVisible();
  await expect(page.getByRole("row").filter({ has: page.getByRole("cell", { name: restored, exact: true }) })).toBeVisible();

  // The Restores tab of the source lists in-place restores (none here) and offers Restore.
  await gotoWithRetry(page, `/databases/${e2eNamespace()}/${db}/restores`);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Restores", level: 2 })).toBeVisible();
  await expect(page.getByRole("button", { name: "Restore", exact: true })).toBeEnabled();
  expect(problems.consoleErrors, "console errors").toEqual([]);
});
