import { expect, test } from "@playwright/test";
import { collectProblems, expectNoProblems, gotoWithRetry, login, waitForHydration } from "./helpers";

// The create form offers the engines installed in the namespace (from its DatabaseEngines), each with the
// versions the version service lists for the installed operator: recommended first, newest first, the best
// one preselected and the recommended ones labelled.
test("the create form offers each installed engine with its recommended version first", async ({ page }) => {
  const problems = collectProblems(page);
  await login(page);
  await gotoWithRetry(page, "/databases/new");
  await waitForHydration(page);

  const engine = page.getByLabel("Engine", { exact: true });
  const version = page.getByLabel("Version", { exact: true });
  await expect(engine.getByRole("option")).toHaveText(["PostgreSQL", "MySQL", "MongoDB"]);

  for (const [label, best, alsoListed] of [
    // The newer operator set (PG 2.8.2, PXC 1.19.0, PSMDB 1.21.2), as the sandbox runs it.
    // PostgreSQL: all five recommended majors, newest first, then the older "available" builds.
    ["PostgreSQL", "17.7", "13.21"],
    // MySQL: 8.4.7 and 8.0.44 are recommended; 8.0.42 is only available; no 5.7.
    ["MySQL", "8.4.7-7.1", "8.0.42-33.1"],
    ["MongoDB", "8.0.17-6", "6.0.18-15"],
  ] as const) {
    await engine.selectOption({ label });
    const options = version.getByRole("option");
    await expect(options.first()).toHaveText(`${best} (recommended)`);
    await expect(version).toHaveValue(best);
    await expect(version.locator(`option[value="${alsoListed}"]`)).toHaveText(alsoListed);
    const texts = await options.allTextContents();
    expect(texts.some((t) => t.startsWith("5."))).toBe(false);
  }
  expectNoProblems(problems);
});
