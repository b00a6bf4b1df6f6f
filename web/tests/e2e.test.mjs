// The web client against the real system in headless Chromium: two people (two browser
// contexts, two cookie jars) sign up, post, comment, message each other and build timetables.
// Screenshots of the main screens land in target/web-screenshots/.
//
// The steps share one system and build on each other, so they run in order.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, person, shot, signUp as signUpAt, startCampus } from "./support.mjs";

const PASSWORD = "quiet-river-campus-42";
const stamp = Date.now().toString(36).slice(-5);
const minji = { loginId: `minji_${stamp}`, nickname: `민지${stamp}`, email: `minji${stamp}` };
const junho = { loginId: `junho_${stamp}`, nickname: `준호${stamp}`, email: `junho${stamp}` };
const TITLE = "중도 3층 자리 있나요?";

let campus;
let browser;
let a; // minji, desktop
let b; // junho, phone-sized
let postPath;

/** Shows the term of the demo catalog (2026 2학기), whatever today's date makes the default. */
async function pickCatalogTerm(page) {
  await page.getByLabel("연도").selectOption("2026");
  await page.getByLabel("학기").selectOption({ label: "2학기" });
}

const signUp = (page, who) => signUpAt(campus, page, who, PASSWORD);

describe("the web client in Chromium", () => {
  before(async () => {
    campus = await startCampus();
    browser = await launchBrowser();
    a = await person(browser, campus.url);
    b = await person(browser, campus.url, { width: 390, height: 844 });
  });

  after(async () => {
    await browser?.close();
    await campus?.stop();
  });

  test("sign up, the refresh cookie, a silent refresh on reload, log out and log in", async () => {
    const { page, context } = a;
    await page.goto("/");
    await page.getByRole("heading", { name: "로그인" }).waitFor();
    // The login form paints first; the redirect to /login follows in an effect right after.
    await page.waitForURL((url) => url.pathname === "/login");
    assert.equal(new URL(page.url()).pathname, "/login");
    await shot(page, "01-login");

    await signUp(page, minji);
    // Home: the school's boards, and nobody else's.
    await page.getByRole("heading", { name: "게시판" }).waitFor();
    await page.getByRole("link", { name: /자유게시판/ }).waitFor();

    const cookies = await context.cookies();
    const refresh = cookies.find((c) => c.name === "__Secure-refresh_token");
    assert.ok(refresh, `the refresh cookie is set: ${JSON.stringify(cookies)}`);
    assert.deepEqual(
      { httpOnly: refresh.httpOnly, secure: refresh.secure, sameSite: refresh.sameSite, path: refresh.path },
      { httpOnly: true, secure: true, sameSite: "Strict", path: "/v1/auth" },
    );
    assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read the refresh token");

    // A reload keeps the access token nowhere, so only the cookie can sign the user back in,
    // and it rotates on the way.
    await page.reload();
    await page.getByTestId("me").getByText(minji.nickname).waitFor();
    const rotated = (await context.cookies()).find((c) => c.name === "__Secure-refresh_token");
    assert.notEqual(rotated.value, refresh.value, "the refresh token rotated");

    // Pinned boards come first.
    await page.getByRole("button", { name: "정보게시판 고정", exact: true }).click();
    await page.getByRole("button", { name: "정보게시판 고정 해제" }).waitFor();
    const first = page.locator(".board-list li").first();
    assert.match(await first.innerText(), /정보게시판/);
    await shot(page, "02-home-boards");

    await page.getByRole("button", { name: "로그아웃" }).click();
    await page.getByRole("heading", { name: "로그인" }).waitFor();
    assert.equal((await context.cookies()).find((c) => c.name === "__Secure-refresh_token"), undefined);

    await page.getByLabel("아이디").fill(minji.loginId);
    await page.getByLabel("비밀번호").fill("wrong-password-1");
    await page.getByRole("button", { name: "로그인" }).click();
    await page.getByRole("alert").getByText("아이디 또는 비밀번호가 올바르지 않아요.").waitFor();
    await page.getByLabel("비밀번호").fill(PASSWORD);
    await page.getByRole("button", { name: "로그인" }).click();
    await page.getByTestId("me").getByText(minji.nickname).waitFor();
  });

  test("write an anonymous post", async () => {
    const { page } = a;
    await page.getByRole("link", { name: /자유게시판/ }).click();
    await page.getByRole("heading", { name: "자유게시판" }).waitFor();
    // The demo students have been writing here all week.
    await page.locator(".post-list .post-item").first().waitFor();
    // From the keyboard: Enter opens the form and the focus lands in the title.
    await page.getByRole("button", { name: "글쓰기" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.activeElement?.getAttribute("name") === "title");
    await page.keyboard.type(TITLE);
    assert.equal(await page.getByLabel("제목").inputValue(), TITLE);
    await page.getByLabel("내용").fill("시험기간이라 자리가 없네요.\n창가 쪽 남는 자리 있으면 알려주세요.");
    assert.equal(await page.getByLabel("익명").isChecked(), true, "anonymous by default, as on Everytime");
    await page.getByRole("button", { name: "완료" }).click();

    await page.getByRole("heading", { name: TITLE }).waitFor();
    postPath = new URL(page.url()).pathname;
    assert.match(postPath, /^\/posts\/\d+$/);
    const author = page.locator(".post .author");
    assert.equal(await author.innerText(), "익명");
    assert.ok(!(await page.locator(".post").innerText()).includes(minji.nickname), "the nickname never shows");

    await page.getByRole("link", { name: "← 게시판으로" }).click();
    await page.getByRole("link", { name: new RegExp(TITLE) }).waitFor();
    await shot(page, "03-board-posts");
  });

  test("a second person comments and sees 익명1; the author's comment says 익명(글쓴이)", async () => {
    await signUp(b.page, junho);
    const { page } = b;
    await page.goto(postPath);
    await page.getByRole("heading", { name: TITLE }).waitFor();
    await page.getByText("첫 댓글을 남겨 보세요.").waitFor();
    await page.getByLabel("댓글", { exact: true }).fill("2층 창가 쪽 비었어요");
    await page.getByRole("button", { name: "등록" }).click();
    const comments = page.locator(".comment-list .comment");
    await comments.first().locator(".author").getByText("익명1", { exact: true }).waitFor();
    assert.ok(!(await page.locator(".comments").innerText()).includes(junho.nickname));

    // A like from someone else counts; a like on one's own post is refused in place.
    await page.getByRole("button", { name: "♥ 공감" }).click();
    await page.getByText("이 글에 공감했어요.").waitFor();
    await page.locator(".post .counts").getByText("공감 1").waitFor();

    // The author replies anonymously to that comment.
    const { page: author } = a;
    await author.getByRole("link", { name: new RegExp(TITLE) }).click();
    await author.getByRole("heading", { name: TITLE }).waitFor();
    await author.locator(".comment-list .comment").first().getByRole("button", { name: "답글" }).click();
    await author.getByText("익명1에게 답글 쓰는 중").waitFor();
    await author.getByLabel("답글", { exact: true }).fill("감사합니다!");
    await author.getByRole("button", { name: "등록" }).click();
    const reply = author.locator(".comment.reply").first();
    await reply.locator(".author").getByText("익명(글쓴이)", { exact: true }).waitFor();
    assert.match(await reply.innerText(), /감사합니다!/);
    await shot(author, "04-post-comments");

    // Junho, on a phone-sized screen, sees the reply once the comments reload.
    await page.reload();
    await page.locator(".comment.reply .author").getByText("익명(글쓴이)").waitFor();
    await shot(page, "05-post-mobile");
  });

  test("a message sent from one person appears live in the other's inbox and conversation", async () => {
    const { page: minjiPage } = a;
    await minjiPage.getByRole("link", { name: "쪽지" }).first().click();
    await minjiPage.getByRole("heading", { name: "쪽지함" }).waitFor();
    await minjiPage.getByText("아직 주고받은 쪽지가 없어요.", { exact: false }).waitFor();
    // Anything below that is not a reload keeps this marker.
    await minjiPage.evaluate(() => ((window).__noReload = true));

    const { page } = b;
    await page.getByRole("button", { name: "글쓴이에게 쪽지 보내기" }).click();
    await page.getByLabel("쪽지 내용").fill("자리 맡아드릴까요?");
    await page.getByRole("button", { name: "보내기", exact: true }).click();
    await page.locator(".message.mine").getByText("자리 맡아드릴까요?").waitFor();

    // The inbox updates from StreamMessages, without a reload. The sender chose anonymity.
    const item = minjiPage.locator(".conversation-list li").first();
    await item.getByText("자리 맡아드릴까요?").waitFor();
    assert.match(await item.innerText(), /익명/);
    assert.ok(!(await item.innerText()).includes(junho.nickname));
    await shot(minjiPage, "06-inbox");

    await item.getByRole("link").click();
    await minjiPage.locator(".message.theirs").getByText("자리 맡아드릴까요?").waitFor();
    await page.getByLabel("쪽지 내용").fill("지금 2층이에요");
    await page.getByRole("button", { name: "보내기", exact: true }).click();
    await minjiPage.locator(".message.theirs").getByText("지금 2층이에요").waitFor();
    assert.equal(await minjiPage.evaluate(() => (window).__noReload), true, "the page was not reloaded");

    // And back the other way.
    await minjiPage.getByLabel("쪽지 내용").fill("네 부탁해요!");
    await minjiPage.getByRole("button", { name: "보내기", exact: true }).click();
    await page.locator(".message.theirs").getByText("네 부탁해요!").waitFor();
    await shot(minjiPage, "07-conversation");
    await shot(page, "08-conversation-mobile");
  });

  test("the timetable: add a lecture, a conflicting one is refused in place, remove, credits", async () => {
    const { page } = a;
    await page.getByRole("link", { name: "시간표" }).first().click();
    await page.getByRole("heading", { name: "시간표", exact: true }).waitFor();
    await pickCatalogTerm(page);
    await page.getByRole("button", { name: "새 시간표 만들기" }).click();
    await page.getByRole("button", { name: /시간표 1/ }).waitFor();
    await page.getByText("총 0학점").waitFor();

    await page.getByLabel("과목명 또는 과목 코드").fill("알고리즘");
    await page.getByRole("search").getByRole("button", { name: "검색" }).click();
    const sections = page.locator(".lecture-item");
    await page.waitForFunction(() => document.querySelectorAll(".lecture-item").length === 2);
    await sections.nth(0).getByRole("button", { name: "알고리즘 추가" }).click();
    await page.getByText("총 3학점").waitFor();
    await page.locator(".week-grid .block").getByText("알고리즘").first().waitFor();

    // The other section meets at the same hours.
    await sections.nth(1).getByRole("button", { name: "알고리즘 추가" }).click();
    const conflict = sections.nth(1).getByRole("alert");
    await conflict.waitFor();
    assert.equal(await conflict.innerText(), "「알고리즘」와(과) 시간이 겹쳐요 (월 15:00–16:15)");
    await page.getByText("총 3학점").waitFor();

    // More lectures for a fuller week; then one removal.
    for (const [query, name] of [
      ["CSE2030", "이산수학"],
      ["CSE3030", "컴퓨터네트워크"],
      ["CHE1010", "일반화학1"],
      ["PHY1011", "일반물리실험1"],
    ]) {
      await page.getByLabel("과목명 또는 과목 코드").fill(query);
      await page.getByRole("search").getByRole("button", { name: "검색" }).click();
      await page.locator(".lecture-item").first().getByText(query, { exact: false }).waitFor();
      await page.locator(".lecture-item").first().getByRole("button", { name: `${name} 추가` }).click();
      await page.locator(".table-lectures").getByText(name).waitFor();
    }
    await page.getByText("총 13학점").waitFor();
    await page.locator(".table-lectures").getByRole("button", { name: "일반물리실험1 빼기" }).click();
    await page.getByText("총 12학점").waitFor();
    await shot(page, "09-timetable");
  });

  test("friends see each other's timetable; reviews; the GPA calculator; HOT and BEST", async () => {
    const { page } = b;
    await page.getByRole("link", { name: "시간표" }).first().click();
    await pickCatalogTerm(page);
    await page.getByLabel("친구 아이디").fill(minji.loginId);
    await page.getByRole("button", { name: "친구 요청" }).click();
    await page.getByText(`${minji.loginId}님에게 친구 요청을 보냈어요.`).waitFor();

    const { page: minjiPage } = a;
    await minjiPage.reload();
    await pickCatalogTerm(minjiPage);
    await minjiPage.getByRole("button", { name: `${junho.nickname}의 요청 수락` }).click();
    await minjiPage.locator(".friend-list").getByRole("link", { name: junho.nickname }).waitFor();

    await page.reload();
    await pickCatalogTerm(page);
    await page.locator(".friend-list").getByRole("link", { name: minji.nickname }).click();
    await page.getByRole("heading", { name: `${minji.nickname}의 시간표` }).waitFor();
    await page.getByText("총 12학점").waitFor();
    await page.locator(".week-grid .block").getByText("컴퓨터네트워크").first().waitFor();
    await shot(page, "10-friend-timetable-mobile");

    // A review of a lecture in the timetable.
    await minjiPage.locator(".table-lectures").getByRole("link", { name: "알고리즘" }).click();
    await minjiPage.getByRole("heading", { name: "알고리즘" }).waitFor();
    await minjiPage.getByText("아직 강의평이 없어요.").waitFor();
    await minjiPage.getByRole("button", { name: "강의평 쓰기" }).click();
    await minjiPage.getByLabel("4점").check();
    await minjiPage.getByLabel("과제").selectOption({ label: "많음" });
    await minjiPage.getByLabel("총평").fill("과제는 많지만 배우는 게 많아요.");
    await minjiPage.getByRole("button", { name: "강의평 등록" }).click();
    await minjiPage.locator(".rating-big").getByText("4.0").waitFor();
    await minjiPage.locator(".review-list").getByText("과제는 많지만 배우는 게 많아요.").waitFor();
    await shot(minjiPage, "11-lecture-reviews");

    // GPA: A+ (4.5) ×3 and B0 (3.0) ×2 → 3.90; the major course alone → 4.50.
    await minjiPage.getByRole("link", { name: "학점" }).first().click();
    await minjiPage.getByRole("heading", { name: "학점계산기" }).waitFor();
    await minjiPage.getByLabel("1번째 과목명").fill("알고리즘");
    await minjiPage.getByLabel("1번째 과목 전공 여부").check();
    await minjiPage.getByLabel("2번째 과목명").fill("일반화학1");
    await minjiPage.getByLabel("2번째 과목 학점").fill("2");
    await minjiPage.getByLabel("2번째 과목 성적").selectOption("B0");
    await minjiPage.getByRole("button", { name: "저장하고 계산" }).click();
    await minjiPage.getByText("저장했어요.").waitFor();
    assert.equal(await minjiPage.getByTestId("gpa").innerText(), "3.90");
    assert.match(await minjiPage.locator(".gpa-summary").innerText(), /전공 평점\s*4\.50[\s\S]*취득 학점\s*5/);
    await shot(minjiPage, "12-gpa");

    await minjiPage.getByRole("link", { name: "HOT" }).first().click();
    await minjiPage.getByRole("heading", { name: "HOT 게시판" }).waitFor();
    // The demo week made some posts HOT; none has the 100 likes of BEST.
    await minjiPage.locator(".post-list .post-item .badge.hot").first().waitFor();
    await minjiPage.getByRole("link", { name: "BEST", exact: true }).click();
    await minjiPage.getByText("아직 BEST 게시물이 없어요.").waitFor();
    await shot(minjiPage, "13-best");
  });

  test("no script errors in either browser", () => {
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });
});
