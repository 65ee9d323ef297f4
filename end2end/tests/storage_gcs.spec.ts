import { expect, test } from "@playwright/test";
import { readFileSync } from "node:fs";
import { collectProblems, e2eNamespace, expectNoProblems, gotoWithRetry, login, uniqueDbName, waitForHydration } from "./helpers";

/** The stack's GCS server (scripts/stack.sh: CAIRN_GCS_*): a person pastes the service account's JSON key file. */
function gcs(): { endpoint: string; bucket: string; keyFile: string } {
  const need = (k: string): string => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set: run through scripts/test.sh (scripts/stack.sh exports it)`);
    return v;
  };
  return { endpoint: need("CAIRN_GCS_ENDPOINT"), bucket: need("CAIRN_GCS_BUCKET"), keyFile: need("CAIRN_GCS_KEY_FILE") };
}

test("a GCS storage location is added from the service account's JSON key file pasted as the secret key", async ({ page }) => {
  const problems = collectProblems(page, [400]);
  const store = gcs();
  const keyFile = JSON.parse(readFileSync(store.keyFile, "utf8"));
  await login(page);
  await gotoWithRetry(page, "/settings/storage-locations");
  await waitForHydration(page);
  const name = uniqueDbName("gcs");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Namespace").selectOption(e2eNamespace());
  await page.getByLabel("Type").selectOption("gcs");
  await page.getByLabel("Bucket (or Azure container)").fill(store.bucket);
  await page.getByLabel("Endpoint URL").fill(store.endpoint);
  // A key file whose key is not one: refused beside the access key field, nothing added.
  await page.getByLabel("Secret key (Azure: account key)").fill(JSON.stringify({ ...keyFile, private_key: "not a key" }, null, 2));
  await page.getByRole("button", { name: "Add storage location" }).click();
  await expect(page.locator("#add-access_key-error")).toBeVisible();
  await expect(page.getByRole("heading", { name, exact: true })).toHaveCount(0);
  // The real file, pretty-printed as downloaded: the one-line field drops its line breaks, and it still works.
  await page.getByLabel("Secret key (Azure: account key)").fill(JSON.stringify(keyFile, null, 2));
  await page.getByRole("button", { name: "Add storage location" }).click();
  await expect(page.getByRole("heading", { name, exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText(`GCS ${store.bucket} · namespace ${e2eNamespace()}`).first()).toBeVisible();
  expectNoProblems(problems);
});
