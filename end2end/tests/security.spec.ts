import { expect, test, type Page } from "@playwright/test";
import { collectProblems, expectNoProblems, expectPath, login, logOut, waitForHydration } from "./helpers";

/** Records every Content-Security-Policy violation the page reports (the listener is installed by the
 * browser driver, outside the page's CSP). */
async function recordCspViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    (window as unknown as { __csp: string[] }).__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as unknown as { __csp: string[] }).__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp ?? []);
}

test.describe("web security", () => {
  test("pages hydrate under the strict CSP with no violations", async ({ page }) => {
    await recordCspViolations(page);
    const problems = collectProblems(page);
    const first = await page.goto("/login");
    const csp = first?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("'wasm-unsafe-eval'");
    expect(csp).toMatch(/'nonce-[A-Za-z0-9_-]+'/);
    expect(csp).not.toContain("unsafe-inline");

    await login(page);
    await waitForHydration(page);
    expect(await cspViolations(page)).toEqual([]);

    // The create form is hydrated: choosing another engine swaps the version list, which only the wasm does.
    await page.getByRole("link", { name: "Create database" }).click();
    await expectPath(page, "/databases/new");
    await waitForHydration(page);
    const version = page.getByLabel("Version", { exact: true });
    await page.getByLabel("Engine", { exact: true }).selectOption({ label: "MySQL" });
    await expect(version.getByRole("option").first()).toHaveText(/^8\./);
    await page.getByLabel("Engine", { exact: true }).selectOption({ label: "PostgreSQL" });
    await expect(version.getByRole("option").first()).toHaveText(/^1[3-7]\./);

    expect(await cspViolations(page)).toEqual([]);
    expectNoProblems(problems);
  });

  test("logging out kills the token itself, not only the cookie", async ({ page, request }) => {
    await login(page);
    await waitForHydration(page);
    const session = (await page.context().cookies()).find((c) => c.name === "cairn_session");
    expect(session, "session cookie").toBeTruthy();
    expect(session!.httpOnly).toBe(true);
    expect(session!.sameSite).toBe("Strict");
    const bearer = { Authorization: `Bearer ${session!.value}` };
    expect((await request.get("/v1/namespaces", { headers: bearer })).status()).toBe(200);

    await logOut(page);

    // The same token, replayed by a script, is refused: it is on the blocklist.
    expect((await request.get("/v1/namespaces", { headers: bearer })).status()).toBe(401);
  });

  test("a cross-site form post with the session cookie is refused", async ({ page, request }) => {
    await login(page);
    const session = (await page.context().cookies()).find((c) => c.name === "cairn_session");
    const response = await request.post("/api/logout", {
      headers: { Cookie: `cairn_session=${session!.value}`, Origin: "https://evil.example" },
    });
    expect(response.status()).toBe(403);
    expect((await response.json()).message).toContain("cross-site request refused");
    // The session is still alive.
    await page.goto("/");
    await expectPath(page, "/");
  });
});
