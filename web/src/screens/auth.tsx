// Sign up (with the code mailed to the school address), log in, and reset a forgotten password
// by a mailed code. After login the refresh cookie keeps the session: a reload or a new tab
// signs in silently.

import { useState } from "preact/hooks";
import { account, auth, date, login } from "../api";
import { Link, navigate } from "../router";
import { Field, InlineError, PasswordField, Show, useAsync, useSubmit, useTitle } from "../ui";

export function Login() {
  useTitle("로그인");
  const [loginId, setLoginId] = useState("");
  const [password, setPassword] = useState("");
  const { submit, busy, error } = useSubmit(async () => {
    await login(loginId.trim(), password);
    navigate("/", true);
  });
  const query = new URLSearchParams(location.search);
  const joined = query.get("joined");
  const reset = query.get("reset");
  const deleted = query.get("deleted");

  return (
    <main class="auth-page">
      <h1 class="brand-large">캠퍼스</h1>
      <p class="tagline">우리 학교 익명 커뮤니티와 시간표</p>
      {joined && (
        <p class="notice" role="status">
          가입이 끝났어요. 로그인해 주세요.
        </p>
      )}
      {reset && (
        <p class="notice" role="status">
          비밀번호를 바꿨어요. 모든 기기에서 로그아웃됐으니 새 비밀번호로 로그인해 주세요.
        </p>
      )}
      {deleted && (
        <p class="notice" role="status">
          탈퇴가 끝났어요. 그동안 이용해 주셔서 고마워요.
        </p>
      )}
      <form class="card form" onSubmit={submit} aria-labelledby="login-title">
        <h2 id="login-title">로그인</h2>
        <Field label="아이디" name="loginId" autocomplete="username" required value={loginId} onValue={setLoginId} />
        <PasswordField label="비밀번호" name="password" value={password} onValue={setPassword} />
        <InlineError error={error} />
        <button type="submit" disabled={busy}>
          {busy ? "로그인 중…" : "로그인"}
        </button>
        <p class="switch">
          처음이신가요? <Link href="/signup">회원가입</Link>
        </p>
        <p class="switch">
          <Link href="/reset-password">비밀번호 찾기</Link>
        </p>
      </form>
    </main>
  );
}

export function SignUp() {
  useTitle("회원가입");
  const [form, setForm] = useState({
    schoolId: "",
    loginId: "",
    password: "",
    nickname: "",
    emailLocal: "",
    emailCode: "",
  });
  // The address a code was sent to, and until when it is good.
  const [sent, setSent] = useState<{ email: string; until: Date | null } | null>(null);
  const field = (name: keyof typeof form) => ({
    name,
    value: form[name],
    onValue: (value: string) => setForm({ ...form, [name]: value }),
  });
  const schools = useAsync(() => account.listSchools({ pageSize: 100 }), []);
  const school = schools.result.state === "ready" ? schools.result.value.schools.find((s) => String(s.id) === form.schoolId) : undefined;
  const email = school ? `${form.emailLocal.trim()}@${school.emailDomain}` : "";
  const { submit, busy, error } = useSubmit(async () => {
    if (!school) return;
    await auth.signUp({
      schoolId: school.id,
      loginId: form.loginId.trim(),
      password: form.password,
      nickname: form.nickname.trim(),
      email,
      emailCode: form.emailCode.trim(),
    });
    // Sign in straight away; fall back to the login page if that fails.
    try {
      await login(form.loginId.trim(), form.password);
      navigate("/", true);
    } catch {
      navigate("/login?joined=1", true);
    }
  });
  const sendCode = useSubmit(async () => {
    if (!school || !form.emailLocal.trim()) return;
    const verification = await auth.sendEmailVerification({ email, schoolId: school.id });
    setSent({ email, until: date(verification.expiresAt) });
  });

  return (
    <main class="auth-page">
      <h1 class="brand-large">캠퍼스</h1>
      <Show value={schools.result} retry={schools.reload}>
        {({ schools: list }) => (
          <form class="card form" onSubmit={submit} aria-labelledby="signup-title">
            <h2 id="signup-title">회원가입</h2>
            {/* Not wrapped in its label: the chosen school would join the select's name. */}
            <div class="field">
              <label for="signup-school">학교</label>
              <select
                id="signup-school"
                name="schoolId"
                required
                value={form.schoolId}
                onChange={(e) => setForm({ ...form, schoolId: e.currentTarget.value })}
              >
                <option value="">학교를 고르세요</option>
                {list.map((s) => (
                  <option key={String(s.id)} value={String(s.id)}>
                    {s.name}
                  </option>
                ))}
              </select>
            </div>
            <Field
              label="아이디"
              hint="영문 소문자, 숫자, _ 로 4–20자"
              {...field("loginId")}
              autocomplete="username"
              required
              minLength={4}
              maxLength={20}
              pattern="[a-z0-9_]{4,20}"
            />
            <PasswordField isNew label="비밀번호" hint="8–64자, 문자와 숫자를 함께" {...field("password")} />
            <Field label="닉네임" {...field("nickname")} required minLength={2} maxLength={20} autocomplete="nickname" />
            <label>
              학교 이메일
              <span class="email-row">
                <input
                  name="emailLocal"
                  value={form.emailLocal}
                  onInput={(e) => setForm({ ...form, emailLocal: e.currentTarget.value })}
                  required
                  autocomplete="email"
                  aria-label="학교 이메일 아이디"
                  pattern="[^@\s]+"
                />
                <span class="domain">@{school?.emailDomain ?? "학교 도메인"}</span>
              </span>
            </label>
            <div class="form-row">
              <button
                type="button"
                class="secondary"
                disabled={sendCode.busy || !school || !form.emailLocal.trim()}
                onClick={sendCode.submit}
              >
                {sendCode.busy ? "보내는 중…" : sent ? "인증번호 다시 받기" : "인증번호 받기"}
              </button>
            </div>
            {sent && (
              <p class="notice" role="status">
                {sent.email}(으)로 인증번호를 보냈어요
                {sent.until ? ` (${sent.until.toLocaleTimeString("ko-KR", { hour: "2-digit", minute: "2-digit" })}까지)` : ""}.
                메일이 안 보이면 스팸함도 확인해 주세요.
              </p>
            )}
            <InlineError error={sendCode.error} />
            <Field
              label="인증번호"
              hint="학교 이메일로 받은 6자리 숫자"
              {...field("emailCode")}
              required
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
            />
            <InlineError error={error} />
            <button type="submit" disabled={busy || !school || !sent}>
              {busy ? "가입 중…" : "가입하기"}
            </button>
            <p class="switch">
              이미 계정이 있나요? <Link href="/login">로그인</Link>
            </p>
          </form>
        )}
      </Show>
    </main>
  );
}

/** A forgotten password: a code to the account's address, then a new password with it. */
export function ResetPassword() {
  useTitle("비밀번호 찾기");
  const [email, setEmail] = useState("");
  const [sentTo, setSentTo] = useState("");
  const [code, setCode] = useState("");
  const [password, setPassword] = useState("");
  const ask = useSubmit(async () => {
    await auth.startPasswordReset({ email: email.trim() });
    setSentTo(email.trim());
  });
  const confirm = useSubmit(async () => {
    await auth.confirmPasswordReset({ email: sentTo, code: code.trim(), newPassword: password });
    navigate("/login?reset=1", true);
  });

  return (
    <main class="auth-page">
      <h1 class="brand-large">캠퍼스</h1>
      {!sentTo ? (
        <form class="card form" onSubmit={ask.submit} aria-labelledby="reset-title">
          <h2 id="reset-title">비밀번호 찾기</h2>
          <p>가입할 때 쓴 학교 이메일로 인증번호를 보내 드려요.</p>
          <Field label="학교 이메일" name="email" type="email" autocomplete="email" required value={email} onValue={setEmail} />
          <InlineError error={ask.error} />
          <button type="submit" disabled={ask.busy}>
            {ask.busy ? "보내는 중…" : "인증번호 받기"}
          </button>
          <p class="switch">
            <Link href="/login">로그인으로 돌아가기</Link>
          </p>
        </form>
      ) : (
        <form class="card form" onSubmit={confirm.submit} aria-labelledby="reset-title">
          <h2 id="reset-title">새 비밀번호 정하기</h2>
          <p class="notice" role="status">
            {sentTo}(으)로 가입된 계정이 있으면 인증번호를 보냈어요. 10분 안에 입력해 주세요.
          </p>
          <Field
            label="인증번호"
            name="code"
            required
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            value={code}
            onValue={setCode}
          />
          <PasswordField
            isNew
            label="새 비밀번호"
            name="newPassword"
            value={password}
            onValue={setPassword}
          />
          <InlineError error={confirm.error} />
          <button type="submit" disabled={confirm.busy}>
            {confirm.busy ? "바꾸는 중…" : "비밀번호 바꾸기"}
          </button>
          <p class="switch">
            <button type="button" class="link" onClick={() => setSentTo("")}>
              다른 이메일로 받기
            </button>
          </p>
        </form>
      )}
    </main>
  );
}
