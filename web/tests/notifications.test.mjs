// Notifications (DESIGN §9) in the browser against the real system: the header's bell counts a
// comment on my post live (StreamNotifications, no reload), the notifications screen lists it
// without naming anyone, opening one lands on the post at that comment and lowers the count,
// 모두 읽음 clears it, the stream comes back after failures, paging, and sign-out ends the stream.
//
// The steps share one system and build on each other, so they run in order.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DESKTOP, PHONE, everyWidth, launchBrowser, person, screenshots, shot, signUp, startCampus } from "./support.mjs";

const PASSWORD = "quiet-river-campus-42";
const stamp = Date.now().toString(36).slice(-5);
const dahye = { loginId: `dahye_${stamp}`, nickname: `다혜${stamp}`, email: `dahye${stamp}` };
const seojun = { loginId: `seojun_${stamp}`, nickname: `서준${stamp}`, email: `seojun${stamp}` };
const TITLE = "기숙사 세탁기 몇 층이 제일 한가해요?";
const NAMED = "3층이 제일 한가해요, 아침 일찍이면요";
const ANONYMOUS = "익명으로 알려드려요: 5층은 늘 꽉 차 있어요";
const LIVE = "지금 보니 2층도 비었네요";

let campus;
let browser;
let a; // 다혜, who comments (desktop)
let b; // 서준, who wrote the post (phone)
let postPath;
/** 서준's notification streams not finished yet. */
const openStreams = new Set();

/** The bell in the header, whatever it says. */
const bell = (page) => page.getByRole("banner").getByRole("link", { name: /^알림/ });

async function bellSays(page, unread) {
  const name = unread === 0 ? "알림, 안 읽은 알림 없음" : `알림, 안 읽음 ${unread}`;
  await page.getByRole("banner").getByRole("link", { name, exact: true }).waitFor();
  if (unread > 0) assert.equal(await bell(page).locator(".bell-count").innerText(), String(unread));
  else assert.equal(await bell(page).locator(".bell-count").count(), 0);
}

async function comment(page, text, { anonymous }) {
  const box = page.getByLabel("익명", { exact: true });
  if ((await box.isChecked()) !== anonymous) await box.click();
  await page.getByLabel("댓글", { exact: true }).fill(text);
  await page.getByRole("button", { name: "등록" }).click();
  await page.locator(".comment-list .comment").getByText(text).waitFor();
}

const items = (page) => page.locator(".notification-list li");

/** An access token for the JSON API, for setting up many comments at once. */
async function tokenFor(who) {
  const response = await fetch(`${campus.url}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ loginId: who.loginId, password: PASSWORD }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).accessToken;
}

describe("notifications in Chromium", () => {
  before(async () => {
    campus = await startCampus();
    browser = await launchBrowser();
    a = await person(browser, campus.url, DESKTOP);
    b = await person(browser, campus.url, PHONE);
    const isStream = (r) => r.url().endsWith("/campus.messaging.v1.NotificationService/StreamNotifications");
    b.page.on("request", (r) => isStream(r) && openStreams.add(r));
    for (const done of ["requestfinished", "requestfailed"]) b.page.on(done, (r) => openStreams.delete(r));
  });

  after(async () => {
    await browser?.close();
    await campus?.stop();
  });

  test("a comment on my post raises my bell's count live, without a reload", async () => {
    await signUp(campus, a.page, dahye, PASSWORD);
    await signUp(campus, b.page, seojun, PASSWORD);
    await bellSays(b.page, 0);

    const { page } = b;
    await page.getByRole("link", { name: /자유게시판/ }).first().click();
    await page.getByRole("button", { name: "글쓰기" }).click();
    await page.getByLabel("제목").fill(TITLE);
    await page.getByLabel("내용").fill("빨래 돌리러 갈 때마다 자리가 없어요.");
    await page.getByRole("button", { name: "완료" }).click();
    await page.getByRole("heading", { name: TITLE }).waitFor();
    postPath = new URL(page.url()).pathname;
    // Anything below that is not a reload keeps this marker.
    await page.evaluate(() => (window.__noReload = true));

    await a.page.goto(postPath);
    await a.page.getByRole("heading", { name: TITLE }).waitFor();
    await comment(a.page, NAMED, { anonymous: false });
    await a.page.locator(".comment .author").getByText(dahye.nickname).waitFor();
    await bellSays(page, 1);
    // A screen reader hears it too.
    await page.getByRole("banner").getByRole("status").getByText("새 알림이 왔어요. 안 읽은 알림 1개").waitFor();

    await comment(a.page, ANONYMOUS, { anonymous: true });
    await bellSays(page, 2);
    assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  });

  test("the notifications screen lists them newest first and names nobody; new ones arrive on top", async () => {
    const { page } = b;
    await bell(page).click();
    await page.getByRole("heading", { name: "알림", level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/notifications");
    await items(page).nth(1).waitFor();
    assert.equal(await items(page).count(), 2);

    const [newest, older] = [await items(page).nth(0).innerText(), await items(page).nth(1).innerText()];
    assert.match(newest, /내 글에 새 댓글/);
    assert.match(newest, /자유게시판/);
    assert.match(newest, new RegExp(ANONYMOUS));
    assert.match(newest, /방금/);
    assert.match(older, new RegExp(NAMED));
    // A notification never names the one who acted, anonymous or not.
    assert.ok(!(await page.locator("main").innerText()).includes(dahye.nickname), "no nickname on the screen");
    assert.equal(await page.locator(".notification.unread-item").count(), 2);
    await everyWidth(page, "notifications");

    // While the screen is open, a new comment shows up at the top.
    await comment(a.page, LIVE, { anonymous: true });
    await items(page).first().getByText(LIVE).waitFor();
    assert.equal(await items(page).count(), 3);
    await bellSays(page, 3);
    assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  });

  test("opening a notification marks it read and lands on the post at the comment", async () => {
    const { page } = b;
    await items(page).filter({ hasText: NAMED }).getByRole("link").click();
    await page.getByRole("heading", { name: TITLE }).waitFor();
    const url = new URL(page.url());
    assert.equal(url.pathname, postPath);
    const commentId = url.searchParams.get("comment");
    assert.match(commentId ?? "", /^\d+$/);

    const target = page.locator(`#comment-${commentId}`);
    await target.getByText(NAMED).waitFor();
    await page.waitForFunction((id) => document.activeElement?.id === `comment-${id}`, commentId);
    assert.match(await target.getAttribute("class"), /\bfocused\b/);
    const box = await target.boundingBox();
    const viewport = page.viewportSize();
    assert.ok(box && box.y >= 0 && box.y + box.height <= viewport.height, `the comment is in view: ${JSON.stringify(box)}`);
    // Where the person lands (the viewport, not the page from the top).
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, "notification-opened-360.png") });
    await bellSays(page, 2);

    // Back on the list the opened one is read, the others are not.
    await bell(page).click();
    await items(page).nth(2).waitFor();
    assert.equal(await page.locator(".notification.unread-item").count(), 2);
    assert.ok(!(await items(page).filter({ hasText: NAMED }).getAttribute("class")).includes("unread-item"));
  });

  test("모두 읽음 marks every notification read, and the server agrees after a reload", async () => {
    const { page } = b;
    await page.getByRole("button", { name: "모두 읽음" }).click();
    await bellSays(page, 0);
    assert.equal(await page.locator(".notification.unread-item").count(), 0);
    await page.reload();
    await items(page).nth(2).waitFor();
    await bellSays(page, 0);
    assert.equal(await page.locator(".notification.unread-item").count(), 0);
    assert.ok(await page.getByRole("button", { name: "모두 읽음" }).isDisabled());
  });

  test("a reply to my comment notifies me with 내 댓글에 새 답글 and opens at the reply", async () => {
    const { page } = b;
    await page.goto(postPath);
    await page.locator(".comment").filter({ hasText: NAMED }).getByRole("button", { name: "답글" }).click();
    await page.getByLabel("답글", { exact: true }).fill("감사해요, 내일 아침에 가 볼게요");
    await page.getByRole("button", { name: "등록" }).click();
    await page.locator(".comment.reply").getByText("감사해요, 내일 아침에 가 볼게요").waitFor();

    await bellSays(a.page, 1);
    await bell(a.page).click();
    const item = items(a.page).first();
    await item.getByText("내 댓글에 새 답글").waitFor();
    assert.match(await item.innerText(), /감사해요, 내일 아침에 가 볼게요/);
    assert.ok(!(await a.page.locator("main").innerText()).includes(seojun.nickname));
    await everyWidth(a.page, "notifications-reply");
    await item.getByRole("link").click();
    const reply = a.page.locator(".comment.reply.focused");
    await reply.getByText("감사해요, 내일 아침에 가 볼게요").waitFor();
    await bellSays(a.page, 0);
    await shot(a.page, "notification-opened-desktop");
  });

  test("the count catches up after the stream failed and came back", async () => {
    const { page } = b;
    // The stream fails on every attempt until the route is lifted: it is retried all the while.
    let refused = 0;
    let retried;
    const twice = new Promise((ok) => (retried = ok));
    await page.route("**/campus.messaging.v1.NotificationService/StreamNotifications", (route) => {
      if (++refused === 2) retried();
      return route.abort("connectionreset");
    });
    await page.reload();
    await bellSays(page, 0);
    await twice;

    await a.page.goto(postPath);
    await comment(a.page, "스트림이 끊긴 사이에 단 댓글", { anonymous: true });
    await page.unroute("**/campus.messaging.v1.NotificationService/StreamNotifications");
    await bellSays(page, 1);
  });

  test("paging: the end of the list loads the older notifications", async () => {
    const token = await tokenFor(dahye);
    const postId = postPath.split("/").pop();
    // 25 more comments through the JSON API: 29 notifications in all, more than a page.
    for (let i = 1; i <= 25; i++) {
      const response = await fetch(`${campus.url}/v1/posts/${postId}/comments`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ content: `댓글 ${i}번`, anonymous: true }),
      });
      assert.ok(response.ok, await response.text());
    }
    const { page } = b;
    await bellSays(page, 26);
    await bell(page).click();
    await items(page).first().getByText("댓글 25번").waitFor();
    assert.equal(await items(page).count(), 20);
    // The end of the list offers 더 보기 (for keyboards), and scrolling to it loads the rest.
    const more = page.getByRole("button", { name: "더 보기" });
    await more.waitFor();
    await more.scrollIntoViewIfNeeded();
    await page.getByText("마지막이에요").waitFor();
    assert.equal(await items(page).count(), 29);
    // Newest first across the pages: the first notification is the last on the list.
    await items(page).last().getByText(NAMED).waitFor();
  });

  test("signing out ends the stream and the bell goes with the header", async () => {
    const { page } = b;
    await page.getByRole("button", { name: "로그아웃" }).click();
    await page.getByRole("heading", { name: "로그인" }).waitFor();
    assert.equal(await bell(page).count(), 0);
    for (let i = 0; openStreams.size > 0 && i < 100; i++) await page.waitForTimeout(100);
    assert.equal(openStreams.size, 0, "no notification stream is left open");
    assert.deepEqual(a.errors, []);
  });
});
