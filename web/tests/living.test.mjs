// The demo campus as a newcomer finds it (seeded students, a week of posts, HOT posts), and the
// screens for what is mine: writing with photos, editing and deleting, search, scraps, my
// lists, the board directory and making a board. Every screen is checked with axe-core and
// photographed at 360 px and on a desktop (target/web-screenshots/<screen>-360|desktop.png).
//
// The steps share one system and build on each other, so they run in order.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DESKTOP, PHONE, everyWidth, launchBrowser, person, startCampus } from "./support.mjs";

// The README's demo accounts.
const DEMO_PASSWORD = "campus-demo-2026";
const TITLE = "사진 있는 글 테스트";

// A 2×2 PNG, red and blue: a real image the board service accepts by its content.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEUlEQVR4nGP4zwAEIOI/kAAAG/ID/VxhF44AAAAASUVORK5CYII=",
  "base64",
);

let campus;
let browser;
let a; // hanbit01, desktop
let b; // hanbit02, phone
let postPath;

async function logIn(page, loginId, nickname) {
  await page.goto("/login");
  await page.getByLabel("아이디").fill(loginId);
  await page.getByLabel("비밀번호").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "로그인" }).click();
  await page.getByTestId("me").getByText(nickname).waitFor();
}

describe("a living demo campus in Chromium", () => {
  before(async () => {
    campus = await startCampus();
    browser = await launchBrowser();
    a = await person(browser, campus.url, DESKTOP);
    b = await person(browser, campus.url, PHONE);
    for (const p of [a.page, b.page]) p.on("dialog", (d) => d.accept());
  });

  after(async () => {
    await browser?.close();
    await campus?.stop();
  });

  test("the sign-in screens pass axe at both widths", async () => {
    const { page } = a;
    await page.goto("/login");
    await page.getByRole("heading", { name: "로그인" }).waitFor();
    await everyWidth(page, "login");
    await page.getByRole("link", { name: "회원가입" }).click();
    await page.getByLabel("닉네임").waitFor();
    await everyWidth(page, "signup");
  });

  test("a demo student logs in and finds a living campus: HOT posts, busy boards, search", async () => {
    const { page } = a;
    await logIn(page, "hanbit01", "새벽세시");
    await page.getByRole("heading", { name: /게시판/ }).first().waitFor();
    const hot = page.locator("section[aria-labelledby=hot-title] .post-item");
    await hot.first().waitFor();
    assert.ok((await hot.count()) >= 1, "HOT posts on the home screen");
    await everyWidth(page, "home");

    await page.getByRole("link", { name: /자유게시판/ }).first().click();
    await page.getByRole("heading", { name: "자유게시판" }).waitFor();
    await page.locator(".post-list .post-item").nth(5).waitFor();
    await everyWidth(page, "board");

    // Search within the board, then a search that finds nothing.
    await page.getByLabel("글 검색").fill("과제");
    await page.getByLabel("글 검색").press("Enter");
    await page.waitForFunction(() =>
      [...document.querySelectorAll(".post-list .post-item")].every((li) => li.textContent.includes("과제")),
    );
    assert.ok((await page.locator(".post-list .post-item").count()) > 0, "the board search finds posts");
    await page.getByLabel("글 검색").fill("존재하지않는검색어");
    await page.getByLabel("글 검색").press("Enter");
    await page.getByText("검색 결과가 없어요.").waitFor();

    // Across the school, from the home screen: results from several boards.
    await page.getByRole("link", { name: "홈" }).first().click();
    await page.getByLabel("전체 게시판에서 검색").fill("수강");
    await page.getByLabel("전체 게시판에서 검색").press("Enter");
    await page.getByRole("heading", { name: "전체 검색" }).waitFor();
    assert.equal(new URL(page.url()).search, `?q=${encodeURIComponent("수강")}`);
    await page.locator(".post-list .post-item").first().waitFor();
    const boards = await page.locator(".post-list .board-name").allInnerTexts();
    assert.ok(new Set(boards).size >= 2, `results from several boards: ${boards}`);
    await everyWidth(page, "search");
  });

  test("write with photos: pick, preview, remove one, upload progress; the viewer", async () => {
    const { page } = a;
    await page.goto("/");
    await page.getByRole("link", { name: /자유게시판/ }).first().click();
    await page.getByRole("button", { name: "글쓰기" }).click();
    await page.getByLabel("제목").fill(TITLE);
    await page.getByLabel("내용").fill("사진 두 장 골랐다가 한 장 뺐어요.");
    await page.getByLabel(/사진 첨부/).setInputFiles([
      { name: "first.png", mimeType: "image/png", buffer: PNG },
      { name: "second.png", mimeType: "image/png", buffer: PNG },
    ]);
    await page.getByRole("img", { name: /첨부할 사진 2/ }).waitFor();
    await page.getByRole("button", { name: "사진 1 빼기" }).click();
    assert.equal(await page.locator(".photo-picker img").count(), 1);
    assert.match(await page.locator(".photo-picker img").getAttribute("alt"), /second\.png/);
    await everyWidth(page, "write-with-photos");

    // Hold the upload so its progress can be seen.
    let release;
    const held = new Promise((ok) => (release = ok));
    await page.route("**/campus.board.v1.BoardService/UploadPhoto", async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole("button", { name: "완료" }).click();
    await page.getByText("사진 올리는 중 (0/1)").waitFor();
    assert.equal(await page.locator("progress").getAttribute("max"), "1");
    release();
    await page.getByRole("heading", { name: TITLE }).waitFor();
    await page.unroute("**/campus.board.v1.BoardService/UploadPhoto");
    postPath = new URL(page.url()).pathname;

    // The photo, fetched over gRPC-web, and the viewer.
    await page.getByRole("button", { name: "사진 1 크게 보기" }).click();
    const viewer = page.getByRole("dialog", { name: "사진 보기" });
    await viewer.getByRole("img", { name: "사진 1 / 1" }).waitFor();
    const size = await viewer.getByRole("img").evaluate((img) => img.naturalWidth);
    assert.equal(size, 2, "the uploaded image itself is shown");
    await everyWidth(page, "photo-viewer");
    await page.keyboard.press("Escape");
    await viewer.waitFor({ state: "hidden" });
    await everyWidth(page, "post-with-photo");
  });

  test("edit my post; another student comments; I like that comment; I delete my own comment", async () => {
    const { page } = a;
    await page.getByRole("button", { name: "수정" }).click();
    await page.getByRole("form", { name: "글 수정" }).getByLabel("제목").fill(`${TITLE} (수정)`);
    await everyWidth(page, "post-edit");
    await page.getByRole("button", { name: "수정 완료" }).click();
    await page.getByRole("heading", { name: `${TITLE} (수정)` }).waitFor();
    await page.getByText("글을 수정했어요.").waitFor();

    await logIn(b.page, "hanbit02", "중도지박령");
    await b.page.goto(postPath);
    await b.page.getByLabel("댓글", { exact: true }).fill("사진 잘 봤어요");
    await b.page.getByRole("button", { name: "등록" }).click();
    await b.page.locator(".comment-list .comment").getByText("사진 잘 봤어요").waitFor();

    await page.reload();
    const theirs = page.locator(".comment-list .comment", { hasText: "사진 잘 봤어요" });
    await theirs.getByRole("button", { name: "공감" }).click();
    await theirs.getByText("댓글에 공감했어요.").waitFor();
    await theirs.getByText("♥ 1").waitFor();

    await page.getByLabel("댓글", { exact: true }).fill("지울 댓글");
    await page.getByRole("button", { name: "등록" }).click();
    const mine = page.locator(".comment-list .comment", { hasText: "지울 댓글" });
    await mine.getByRole("button", { name: "삭제" }).click();
    await mine.waitFor({ state: "detached" });
    await everyWidth(page, "post-comments");
  });

  test("my posts, my commented posts, my scraps with unscrap", async () => {
    const { page } = b;
    // Scrap a post of someone else: the first HOT post that is not hanbit02's own.
    await page.goto("/hot");
    await page.locator(".post-list .post-item").first().waitFor();
    const links = await page.locator(".post-list .post-link").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    let scrapped = null;
    for (const href of links) {
      await page.goto(href);
      const scrap = page.getByRole("button", { name: "★ 스크랩" });
      await scrap.waitFor();
      if (await scrap.isDisabled()) continue;
      if ((await scrap.getAttribute("aria-pressed")) !== "true") {
        await scrap.click();
        await page.getByText("스크랩했어요.").waitFor();
      }
      scrapped = href;
      break;
    }
    assert.ok(scrapped, "a HOT post by someone else");
    await everyWidth(page, "hot");

    await page.getByRole("link", { name: "내 정보" }).first().click();
    await page.getByRole("heading", { name: "내 정보" }).waitFor();
    await page.locator(".post-list .post-item").first().waitFor();
    await everyWidth(page, "me-posts");
    await page.getByRole("link", { name: "댓글 단 글" }).click();
    await page.locator(`.post-list a[href="${postPath}"]`).waitFor();
    await everyWidth(page, "me-comments");
    await page.getByRole("link", { name: "스크랩", exact: true }).click();
    const item = page.locator(".post-list .post-item", { has: page.locator(`a[href="${scrapped}"]`) });
    await item.waitFor();
    await everyWidth(page, "me-scraps");
    await item.getByRole("button", { name: /스크랩 취소/ }).click();
    await item.waitFor({ state: "detached" });

    // hanbit01 finds the post in their own list.
    await a.page.goto("/me/posts");
    await a.page.locator(`.post-list a[href="${postPath}"]`).waitFor();
  });

  test("the board directory: pin from there, make a board; pinned boards first on home", async () => {
    const { page } = a;
    await page.goto("/");
    await page.getByRole("link", { name: "전체 보기" }).click();
    await page.getByRole("heading", { name: "게시판 목록" }).waitFor();
    await page.getByRole("region", { name: "장터 게시판" }).waitFor();
    await page.getByRole("button", { name: "장터게시판 고정", exact: true }).click();
    await page.getByRole("button", { name: "장터게시판 고정 해제" }).waitFor();
    await everyWidth(page, "board-directory");

    await page.getByRole("button", { name: "게시판 만들기" }).click();
    await page.getByLabel("게시판 이름").fill("스터디 모집");
    await page.getByLabel("설명").fill("같이 공부할 사람을 찾는 곳");
    await page.getByLabel("분류").selectOption({ label: "동아리·학회" });
    await everyWidth(page, "board-new");
    await page.getByRole("button", { name: "만들기", exact: true }).click();
    await page.getByRole("heading", { name: "스터디 모집" }).waitFor();
    await page.getByText("같이 공부할 사람을 찾는 곳").waitFor();
    await page.getByText("아직 글이 없어요. 첫 글을 써 보세요!").waitFor();

    await page.goto("/boards");
    await page.getByRole("region", { name: "동아리·학회 게시판" }).getByRole("link", { name: /스터디 모집/ }).waitFor();
    await page.goto("/");
    assert.match(await page.locator(".board-list li").first().innerText(), /장터게시판/);
  });

  test("delete my post", async () => {
    const { page } = a;
    await page.goto(postPath);
    await page.getByRole("button", { name: "삭제" }).first().click();
    await page.getByRole("heading", { name: "자유게시판" }).waitFor();
    await page.goto(postPath);
    await page.getByRole("alert").getByText("찾을 수 없어요. 삭제되었을 수 있어요.").waitFor();
  });

  test("the other screens pass axe at both widths", async () => {
    const { page } = a;
    for (const [path, name, ready] of [
      ["/messages", "inbox", () => page.getByRole("heading", { name: "쪽지함" })],
      ["/timetable", "timetable", () => page.getByRole("heading", { name: "시간표", exact: true })],
      ["/gpa", "gpa", () => page.getByRole("heading", { name: "학점계산기" })],
      ["/best", "best", () => page.getByRole("heading", { name: "BEST 게시판" })],
    ]) {
      await page.goto(path);
      await ready().waitFor();
      await page.waitForFunction(() => !document.querySelector(".state.loading"));
      await everyWidth(page, name);
    }
  });

  test("no script errors in either browser", () => {
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  });
});
