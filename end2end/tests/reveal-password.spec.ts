import { expect, test } from "@playwright/test";
import {
  collectProblems,
  databaseRow,
  e2eNamespace,
  expectNoProblems,
  expectPath,
  fillDatabaseForm,
  gotoWithRetry,
  login,
  submitDatabaseForm,
  uniqueDbName,
  waitForHydration,
} from "./helpers";

test("reveal a database's password on request, and only then", async ({ page }) => {
  test.setTimeout(120_000);
  const problems = collectProblems(page);
  const name = uniqueDbName("cred");
  await login(page);
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);
  await fillDatabaseForm(page, { name, nodes: "1" });
  await submitDatabaseForm(page);
  await expectPath(page, "/");
  const row = databaseRow(page, name);
  await expect(row.getByText("Ready")).toBeVisible({ timeout: 60_000 });

  // What the server says the credentials are (the same authorised endpoint scripts use).
  const response = await page.request.get(`/v1/namespaces/${e2eNamespace()}/database-clusters/${name}/credentials`);
  expect(response.status()).toBe(200);
  expect(response.headers()["cache-control"]).toBe("no-store");
  const creds = await response.json();
  expect(creds.username).toBe("postgres");
  expect(creds.password.length).toBeGreaterThan(8);

  // The database's page, as served, holds no password; it shows it only after "Reveal password".
  await row.getByRole("link", { name }).click();
  const pagePath = `/databases/${e2eNamespace()}/${name}/overview`;
  await expectPath(page, pagePath);
  const html = await (await page.request.get(pagePath)).text();
  expect(html).not.toContain(creds.password);
  await waitForHydration(page);
  const connection = page.getByRole("region", { name: "Connection" });
  await expect(connection).not.toContainText(creds.password);
  await connection.getByRole("button", { name: "Reveal password" }).click();
  await expect(connection).toContainText(creds.password);
  await expect(connection).toContainText(creds.connectionUrl);
  await connection.getByRole("button", { name: "Hide" }).click();
  await expect(connection).not.toContainText(creds.password);
  expectNoProblems(problems);
});
