// The real system for the browser tests: the `campus` binary (the debug build that
// `cargo test --workspace` already makes) on a free port with a fresh data directory, and
// Debian's Chromium driven by playwright-core.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "../..");
/** Where screenshots go: target/web-screenshots in the clone, which CI keeps as artifacts. */
export const screenshots = process.env.WEB_SCREENSHOTS ?? join(repo, "target", "web-screenshots");

/** The campus binary: $CAMPUS_BIN, else $CARGO_TARGET_DIR/debug/campus. */
export function campusBinary() {
  const bin = process.env.CAMPUS_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(repo, "target"), "debug", "campus");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build it with \`cargo build -p campus\``);
  return bin;
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Starts campus and waits until /readyz says every service is serving. */
export async function startCampus() {
  const dataDir = mkdtempSync(join(tmpdir(), "campus-web-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(campusBinary(), [], {
    env: {
      ...process.env,
      CAMPUS_DATA_DIR: dataDir,
      GATEWAY_LISTEN_ADDR: `127.0.0.1:${port}`,
      // The services on free ports too, so a campus already running here is no obstacle.
      ACCOUNT_LISTEN_ADDR: "127.0.0.1:0",
      BOARD_LISTEN_ADDR: "127.0.0.1:0",
      MESSAGING_LISTEN_ADDR: "127.0.0.1:0",
      TIMETABLE_LISTEN_ADDR: "127.0.0.1:0",
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  const deadline = Date.now() + 90_000;
  for (;;) {
    const early = await Promise.race([exited, new Promise((ok) => setTimeout(() => ok(null), 250))]);
    if (early) throw new Error(`campus exited before it was ready: ${JSON.stringify(early)}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("campus was not ready within 90 s");
    }
  }
  const taken = new Set();
  return {
    url,
    /** Where the account service writes its mail (no SMTP is configured here). */
    outbox: join(dataDir, "outbox"),
    /**
     * The next mail to `email` not handed out yet (oldest first), waiting for it: the one way
     * the tests get sign-up and reset codes, through the real flow.
     */
    async nextMail(email) {
      const to = `to: ${email.toLowerCase()}`;
      const deadline = Date.now() + 15_000;
      for (;;) {
        const names = existsSync(this.outbox) ? readdirSync(this.outbox).filter((n) => n.endsWith(".eml")).sort() : [];
        for (const name of names) {
          if (taken.has(name)) continue;
          const text = readFileSync(join(this.outbox, name), "utf8");
          const head = text.split("\r\n\r\n")[0].toLowerCase();
          if (head.split("\r\n").some((line) => line.trim() === to)) {
            taken.add(name);
            return text;
          }
        }
        if (Date.now() > deadline) throw new Error(`no mail to ${email} in ${this.outbox}`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
    },
    /** The 6-digit code of the next mail to `email`. */
    async codeFor(email) {
      const mail = await this.nextMail(email);
      const body = mail.slice(mail.indexOf("\r\n\r\n") + 4);
      const code = body.match(/(?<!\d)\d{6}(?!\d)/);
      if (!code) throw new Error(`the mail to ${email} carries no code:\n${mail}`);
      return code[0];
    },
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A fresh browser context (its own cookie jar: another person) whose page records script
 * errors, so a test can assert none happened.
 */
export async function person(browser, baseURL, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ baseURL, viewport, locale: "ko-KR", timezoneId: "Asia/Seoul" });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  return { context, page, errors };
}

/**
 * Signs `who` ({loginId, nickname, email}) up at 한빛대학교 through the real flow: the code
 * goes to the school address and is read from the outbox of `campus`.
 */
export async function signUp(campus, page, who, password) {
  await page.goto("/");
  await page.getByRole("heading", { name: "로그인" }).waitFor();
  await page.getByRole("link", { name: "회원가입" }).click();
  await page.getByLabel("학교", { exact: true }).selectOption({ label: "한빛대학교" });
  await page.getByLabel("아이디", { exact: true }).fill(who.loginId);
  await page.getByLabel("비밀번호", { exact: true }).fill(password);
  await page.getByLabel("닉네임").fill(who.nickname);
  await page.getByLabel("학교 이메일 아이디").fill(who.email);
  await assert.doesNotReject(page.getByText("@hanbit.ac.kr").waitFor());
  await page.getByRole("button", { name: "인증번호 받기" }).click();
  await page.getByRole("status").getByText("인증번호를 보냈어요").waitFor();
  await page.getByLabel("인증번호", { exact: true }).fill(await campus.codeFor(`${who.email}@hanbit.ac.kr`));
  await page.getByRole("button", { name: "가입하기" }).click();
  await page.getByTestId("me").getByText(who.nickname).waitFor();
}

export async function shot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  // From the top, so the sticky header is where a person sees it.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core in the page (its source evaluated over the DevTools protocol, so the page's
 * Content-Security-Policy does not stop it) and fails on any serious or critical violation.
 */
export async function axe(page, name) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(" | ")}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
}

export const PHONE = { width: 360, height: 780 };
export const DESKTOP = { width: 1280, height: 860 };

/**
 * The current screen at 360 px and on a desktop: a screenshot of each (`<name>-360.png`,
 * `<name>-desktop.png`) and axe-core at each. The page is left at the size it had.
 */
export async function everyWidth(page, name) {
  const before = page.viewportSize();
  for (const [suffix, size] of [["360", PHONE], ["desktop", DESKTOP]]) {
    await page.setViewportSize(size);
    // Nothing may stick out sideways on a phone.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name} at ${size.width}px scrolls sideways by ${overflow}px`);
    await axe(page, `${name} at ${size.width}px`);
    await shot(page, `${name}-${suffix}`);
  }
  await page.setViewportSize(before);
}
