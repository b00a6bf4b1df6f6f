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
    // Found posts, and only posts that say it (the list is empty while the search loads).
    await page.waitForFunction(() => {
      const found = [...document.querySelectorAll(".post-list .post-item")];
      return found.length > 0 && found.every((li) => li.textContent.includes("과제"));
    });
    await page.getByLabel("글 검색").fill("존재하지않는검색어");
    await page.getByLabel("글 검색").press("Enter");
    await page.getByText("검색 결과가 없어요.").waitFor();

    // Across the school, from the home screen: results from several boards.
    await page.getByRole("link", { name: "홈" }).first().click();
    await page.getByLabel("전체 게시판에서 검색").fill("수강");
    await page.getByLabel("전체 게시판에서 검색").press("Enter");
    await page.getByRole("heading", { name: "전체 검색" }).waitFor();
    assert.equal(new URL(page.url()).search, `?q=${encodeURIComponent("수강")}`);
    // Results from several boards, each named (the names load beside the results).
    await page.waitForFunction(
      () => new Set([...document.querySelectorAll(".post-list .board-name")].map((e) => e.textContent).filter(Boolean)).size >= 2,
    );
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

  test("lists show a post's preview (two lines) and its photo count; the post shows all of it", async () => {
    const { page } = a;
    const title = "긴 글 미리보기 테스트";
    const ending = "끝까지 읽어 주셔서 고마워요.";
    const content = `오늘 도서관에서 있었던 일을 적어 봅니다.\n${"자리 맡기 경쟁이 정말 치열했어요. ".repeat(5)}${ending}`;
    const preview = [...content].slice(0, 100).join("");
    assert.ok(!preview.includes(ending), "the ending lies past the first 100 characters");

    await page.goto("/");
    await page.getByRole("link", { name: /자유게시판/ }).first().click();
    await page.getByRole("heading", { name: "자유게시판" }).waitFor();
    const boardPath = new URL(page.url()).pathname;
    await page.getByRole("button", { name: "글쓰기" }).click();
    await page.getByLabel("제목").fill(title);
    await page.getByLabel("내용").fill(content);
    await page.getByRole("button", { name: "완료" }).click();
    await page.getByRole("heading", { name: title }).waitFor();
    assert.equal(await page.locator(".post-content").textContent(), content, "the post shows all of it");

    await page.goto(boardPath);
    const item = (t) => page.locator(".post-list .post-item", { hasText: t });
    const snippet = item(title).locator(".post-snippet");
    await snippet.waitFor();
    assert.equal(await snippet.textContent(), preview, "the list shows the first 100 characters only");
    assert.equal(await item(title).locator(".count-photo").count(), 0, "no photos, no photo count");
    const photos = item(TITLE).locator(".count-photo");
    assert.equal(await photos.getAttribute("aria-label"), "사진 1장");
    assert.equal((await photos.textContent()).trim(), "1");
    await everyWidth(page, "board-previews");

    await page.setViewportSize(PHONE);
    const lines = await snippet.evaluate((el) => el.clientHeight / parseFloat(getComputedStyle(el).lineHeight));
    assert.equal(Math.round(lines), 2, "the preview takes two lines at 360 px");
    await page.setViewportSize(DESKTOP);
  });

  test("edit my post; another student comments; I like that comment; I delete my own comment", async () => {
    const { page } = a;
    await page.goto(postPath);
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

    // A message to the author of the post, from the post: the conversation screen.
    await b.page.getByRole("button", { name: "글쓴이에게 쪽지 보내기" }).click();
    await b.page.getByLabel("쪽지 내용").fill("사진 어디서 찍으셨어요?");
    await b.page.getByRole("button", { name: "보내기", exact: true }).click();
    await b.page.locator(".message.mine").getByText("사진 어디서 찍으셨어요?").waitFor();
    await everyWidth(b.page, "conversation");

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

  test("timetable: custom entries with conflicts, several timetables: rename, make primary, delete", async () => {
    const { page } = a;
    await page.goto("/timetable");
    await page.getByLabel("연도").selectOption("2026");
    await page.getByLabel("학기").selectOption({ label: "2학기" });
    await page.getByRole("button", { name: "새 시간표 만들기" }).click();
    await page.getByText("총 0학점").waitFor();
    await page.getByLabel("과목명 또는 과목 코드").fill("알고리즘");
    await page.getByRole("search").getByRole("button", { name: "검색" }).click();
    await page.locator(".lecture-item").first().getByRole("button", { name: "알고리즘 추가" }).click();
    await page.getByText("총 3학점").waitFor();

    // A custom entry over the lecture (월 15:00–16:15) is refused in place; a later one fits.
    const form = page.getByRole("form", { name: "일정 추가" });
    await form.getByLabel("일정 이름").fill("동아리 모임");
    await form.getByLabel("일정 요일").selectOption({ label: "월요일" });
    await form.getByLabel("시작 시각").fill("15:30");
    await form.getByLabel("끝 시각").fill("17:00");
    await form.getByLabel("장소").fill("학생회관");
    await form.getByRole("button", { name: "일정 추가" }).click();
    assert.equal(await form.getByRole("alert").innerText(), "「알고리즘」와(과) 시간이 겹쳐요 (월 15:00–16:15)");
    await everyWidth(page, "timetable-conflict");
    await form.getByLabel("시작 시각").fill("18:00");
    await form.getByLabel("끝 시각").fill("19:30");
    await form.getByRole("button", { name: "일정 추가" }).click();
    await page.locator(".week-grid .block").getByText("동아리 모임").waitFor();
    await page.locator(".table-lectures").getByText("동아리 모임").waitFor();
    assert.equal(await form.getByRole("alert").count(), 0);
    await everyWidth(page, "timetable-custom");

    // A second timetable: rename it, make it primary, then delete it.
    const tabs = page.getByRole("group", { name: "내 시간표" });
    await tabs.getByRole("button", { name: "새 시간표 만들기" }).click();
    await page.getByText("총 0학점").waitFor();
    const settings = page.getByRole("form", { name: "시간표 설정" });
    await settings.getByLabel("시간표 이름").fill("플랜 B");
    await settings.getByRole("button", { name: "이름 바꾸기" }).click();
    await tabs.getByRole("button", { name: /플랜 B/ }).waitFor();
    await page.getByRole("button", { name: "기본 시간표로" }).click();
    await tabs.getByRole("button", { name: "플랜 B (기본)" }).waitFor();
    await everyWidth(page, "timetable-several");
    await settings.getByRole("button", { name: "시간표 삭제" }).click();
    await tabs.getByRole("button", { name: /플랜 B/ }).waitFor({ state: "detached" });
    await page.getByText("총 3학점").waitFor();
  });

  test("friend requests: send, accept, remove; send and decline", async () => {
    const { page } = a;
    await b.page.goto("/timetable");
    await b.page.getByLabel("친구 아이디").fill("hanbit01");
    await b.page.getByRole("button", { name: "친구 요청" }).click();
    await b.page.getByText("hanbit01님에게 친구 요청을 보냈어요.").waitFor();
    await b.page.getByRole("list", { name: "친구 요청" }).getByText("수락을 기다리는 중").waitFor();

    const c = await person(browser, campus.url, PHONE);
    await logIn(c.page, "hanbit03", "학식러버");
    await c.page.goto("/timetable");
    await c.page.getByLabel("친구 아이디").fill("hanbit01");
    await c.page.getByRole("button", { name: "친구 요청" }).click();
    await c.page.getByText("hanbit01님에게 친구 요청을 보냈어요.").waitFor();

    await page.reload();
    const requests = page.getByRole("list", { name: "친구 요청" });
    await requests.getByRole("button", { name: "학식러버의 요청 거절" }).waitFor();
    await everyWidth(page, "friend-requests");
    await requests.getByRole("button", { name: "중도지박령의 요청 수락" }).click();
    await page.locator(".friend-list").getByRole("link", { name: "중도지박령" }).waitFor();
    await requests.getByRole("button", { name: "학식러버의 요청 거절" }).click();
    await requests.waitFor({ state: "detached" });
    assert.equal(await page.locator(".friend-list").getByText("학식러버").count(), 0);

    // The friend sees my timetable, with its custom entry.
    await b.page.reload();
    await b.page.locator(".friend-list").getByRole("link", { name: "새벽세시" }).click();
    await b.page.getByRole("heading", { name: "새벽세시의 시간표" }).waitFor();
    await b.page.getByLabel("연도").selectOption("2026");
    await b.page.getByLabel("학기").selectOption({ label: "2학기" });
    await b.page.locator(".week-grid .block").getByText("동아리 모임").waitFor();
    await everyWidth(b.page, "friend-timetable");

    await page.getByRole("button", { name: "중도지박령 친구 끊기" }).click();
    await page.getByText("아직 친구가 없어요. 아이디로 친구 요청을 보내 보세요.").waitFor();
    assert.deepEqual(c.errors, []);
    await c.context.close();
  });

  test("reviews: every attribute, the distributions, edit and delete", async () => {
    const { page } = a;
    await page.goto("/timetable");
    await page.getByLabel("연도").selectOption("2026");
    await page.getByLabel("학기").selectOption({ label: "2학기" });
    await page.locator(".table-lectures").getByRole("link", { name: "알고리즘" }).click();
    await page.getByRole("heading", { name: "알고리즘" }).waitFor();
    const lecturePath = new URL(page.url()).pathname;

    const write = async (p, stars, attrs, text) => {
      await p.getByRole("button", { name: "강의평 쓰기" }).click();
      const form = p.getByRole("form", { name: "강의평 쓰기" });
      await form.getByLabel(`${stars}점`).check();
      for (const [label, option] of Object.entries(attrs)) await form.getByLabel(label).selectOption({ label: option });
      await form.getByLabel("총평").fill(text);
      await form.getByRole("button", { name: "강의평 등록" }).click();
      await p.locator(".review-list").getByText(text).waitFor();
    };
    await write(page, 4, { 과제: "많음", 조모임: "없음", 성적: "너그러움", 출결: "전자출결", "시험 횟수": "두 번" }, "과제는 많지만 배우는 게 많아요.");
    await b.page.goto(lecturePath);
    await write(b.page, 2, { 과제: "보통", 조모임: "많음", 성적: "깐깐함", 출결: "직접호명", "시험 횟수": "세 번" }, "시험이 어려워요.");
    await b.page.locator(".rating-big").getByText("3.0").waitFor();
    const assignments = b.page.getByRole("list", { name: "과제 분포" });
    assert.match(await assignments.getByRole("listitem").filter({ hasText: "많음" }).innerText(), /50% \(1\)/);
    assert.match(await assignments.getByRole("listitem").filter({ hasText: "보통" }).innerText(), /50% \(1\)/);
    assert.match(await assignments.getByRole("listitem").filter({ hasText: "없음" }).innerText(), /0% \(0\)/);
    await everyWidth(b.page, "lecture-reviews");

    // Edit: every attribute comes back into the form; change the rating and the text.
    await page.reload();
    const mine = page.locator(".review", { hasText: "과제는 많지만" });
    await mine.getByRole("button", { name: "수정" }).click();
    const form = page.getByRole("form", { name: "강의평 수정" });
    assert.equal(await form.getByLabel("과제").inputValue(), await form.getByLabel("과제").locator("option", { hasText: "많음" }).getAttribute("value"));
    await form.getByLabel("5점").check();
    await form.getByLabel("총평").fill("다시 생각해 보니 최고의 수업이었어요.");
    await everyWidth(page, "review-edit");
    await form.getByRole("button", { name: "강의평 수정 완료" }).click();
    await page.locator(".review-list").getByText("다시 생각해 보니 최고의 수업이었어요.").waitFor();
    await page.locator(".rating-big").getByText("3.5").waitFor();

    await page.locator(".review", { hasText: "다시 생각해 보니" }).getByRole("button", { name: "삭제" }).click();
    await page.locator(".review-list").getByText("다시 생각해 보니").waitFor({ state: "detached" });
    await page.locator(".rating-big").getByText("2.0").waitFor();
    await page.getByRole("button", { name: "강의평 쓰기" }).waitFor();
  });

  test("lists show loading, error with retry, and empty states; the keyboard reaches everything", async () => {
    const { page } = a;
    // A held call shows the loading state; a failed one the error with a retry that works.
    for (const [path, method, ready] of [
      ["/me/posts", "ListMyPosts", ".post-list .post-item"],
      ["/hot", "ListHotPosts", ".post-list .post-item"],
      ["/search?q=%EA%B3%BC%EC%A0%9C", "SearchPosts", ".post-list .post-item"],
      ["/boards", "ListBoards", ".board-list li"],
    ]) {
      const pattern = `**/campus.board.v1.BoardService/${method}`;
      let release;
      const held = new Promise((ok) => (release = ok));
      await page.route(pattern, async (route) => {
        await held;
        await route.abort("connectionrefused");
      });
      await page.goto(path);
      await page.getByRole("status").filter({ hasText: "불러오는 중" }).first().waitFor();
      release();
      const error = page.getByRole("alert").filter({ hasText: "서버에 연결할 수 없어요" }).first();
      await error.waitFor();
      await page.unroute(pattern);
      await error.getByRole("button", { name: "다시 시도" }).click();
      await page.locator(ready).first().waitFor();
    }
    // The refused calls were logged by the browser, as they should be; nothing else was.
    a.errors.splice(0, a.errors.length, ...a.errors.filter((e) => !e.includes("ERR_CONNECTION_REFUSED")));
    // Empty: a search that finds nothing (an empty board is shown in the directory test).
    await page.goto("/search?q=%EC%97%86%EB%8A%94%EB%A7%90%EC%9E%85%EB%8B%88%EB%8B%A4");
    await page.getByText("검색 결과가 없어요.").waitFor();

    // Keyboard: the first Tab reaches the skip link, which is visible when focused and moves
    // the focus to the content; every focused control shows an outline.
    await page.goto("/");
    await page.getByRole("heading", { name: /게시판/ }).first().waitFor();
    await page.keyboard.press("Tab");
    const skip = page.getByRole("link", { name: "본문으로 건너뛰기" });
    assert.equal(await skip.evaluate((el) => el === document.activeElement), true);
    const box = await skip.boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0, "the skip link is on screen when focused");
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      const outline = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement);
        return { tag: document.activeElement.tagName, width: style.outlineWidth, style: style.outlineStyle };
      });
      assert.ok(outline.style !== "none" && outline.width !== "0px", `a visible focus on ${JSON.stringify(outline)}`);
    }
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
