import { launchBrowser, person, startCampus, PHONE } from "./tests/support.mjs";
const campus = await startCampus();
const browser = await launchBrowser();
try {
  const { page, errors } = await person(browser, campus.url, PHONE);
  await page.goto("/login");
  await page.getByLabel("아이디").fill("hanbit01");
  await page.getByLabel("비밀번호").fill("campus-demo-2026");
  await page.getByRole("button", { name: "로그인" }).click();
  await page.getByTestId("me").waitFor();
  console.log("bell:", await page.locator(".bell").getAttribute("aria-label"));
  await page.screenshot({ path: "/tmp/wb/home-360.png" });
  await page.locator(".bell").click();
  await page.getByRole("heading", { name: "알림" }).waitFor();
  await page.waitForTimeout(1500);
  console.log("screen:", (await page.locator("main").innerText()).slice(0, 300));
  await page.screenshot({ path: "/tmp/wb/notif-360.png" });
  // a post with comments
  await page.goto("/hot");
  await page.locator(".post-item a").first().click();
  await page.locator(".comment").first().waitFor();
  const ids = await page.locator(".comment").evaluateAll((els) => els.map((e) => e.id));
  console.log("comment ids", ids.length, ids.slice(-3));
  const last = ids[ids.length - 1].replace("comment-", "");
  await page.goto(new URL(page.url()).pathname + "?comment=" + last);
  await page.locator(".comment.focused").waitFor();
  await page.waitForTimeout(500);
  console.log("active", await page.evaluate(() => document.activeElement?.id), await page.locator(".comment.focused").boundingBox());
  await page.screenshot({ path: "/tmp/wb/post-360.png" });
  console.log("errors", errors);
} finally {
  await browser.close();
  await campus.stop();
}
