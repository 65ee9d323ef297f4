import { expect, test } from "@playwright/test";
import {
  ADMIN_USER,
  accountMenu,
  logOut,
  adminPassword,
  expectPath,
  gotoWithRetry,
  login,
  waitForHydration,
} from "./helpers";

test.describe("authentication", () => {
  test("visiting the databases list when not logged in redirects to the login page", async ({ page }) => {
    await gotoWithRetry(page, "/");
    await expectPath(page, "/login");
    await expect(page.getByRole("heading", { name: "Log in to Cairn" })).toBeVisible();
  });

  test("a wrong password is rejected and the user stays on the login page", async ({ page }, testInfo) => {
    await gotoWithRetry(page, "/login");
    await expect(page.getByRole("heading", { name: "Log in to Cairn" })).toBeVisible();
    await waitForHydration(page);
    await page.getByLabel("Username").fill(ADMIN_USER);
    await page.getByLabel("Password").fill(`${adminPassword()}-wrong`);
    await page.getByRole("button", { name: "Log in" }).click();

    const alert = page.getByRole("alert").filter({ hasText: "Invalid username or password" });
    await expect(alert).toBeVisible();
    await expectPath(page, "/login");
    await page.screenshot({ path: testInfo.outputPath("login-rejected.png"), fullPage: true });

    // Still not logged in.
    await page.goto("/");
    await expectPath(page, "/login");
  });

  test("logging in with the admin account opens the databases list", async ({ page }, testInfo) => {
    await gotoWithRetry(page, "/login");
    await expect(page.getByRole("heading", { name: "Log in to Cairn" })).toBeVisible();
    await expect(page.getByLabel("Username")).toBeVisible();
    await expect(page.getByLabel("Password")).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath("login.png"), fullPage: true });

    await login(page);
    await expect(page.getByRole("link", { name: "Create database" })).toBeVisible();
    await expect(accountMenu(page)).toHaveText(/admin/);

    // The header names the user on a page served whole, and after a move inside the app.
    await page.reload();
    await waitForHydration(page);
    await expect(accountMenu(page)).toHaveText(/admin/);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
    await expectPath(page, "/settings/namespaces");
    await expect(accountMenu(page)).toHaveText(/admin/);
  });

  test("logging out ends the session", async ({ page }) => {
    await login(page);
    await waitForHydration(page);
    await logOut(page);
    await expect(page.getByRole("heading", { name: "Log in to Cairn" })).toBeVisible();

    // The session cookie is gone: the list is not reachable any more.
    await page.goto("/");
    await expectPath(page, "/login");
  });
});
