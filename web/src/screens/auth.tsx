// Sign up and log in. After login the refresh cookie keeps the session: a reload or a new tab
// signs in silently.

import { useState } from "preact/hooks";
import { account, auth, login } from "../api";
import { Link, navigate } from "../router";
import { InlineError, Show, useAsync, useTitle } from "../ui";

export function Login() {
  useTitle("로그인");
  const [loginId, setLoginId] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const joined = new URLSearchParams(location.search).get("joined");

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(loginId.trim(), password);
      navigate("/", true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth-page">
      <h1 class="brand-large">캠퍼스</h1>
      <p class="tagline">우리 학교 익명 커뮤니티와 시간표</p>
      {joined && (
        <p class="notice" role="status">
          가입이 끝났어요. 로그인해 주세요.
        </p>
      )}
      <form class="card form" onSubmit={submit} aria-labelledby="login-title">
        <h2 id="login-title">로그인</h2>
        <label>
          아이디
          <input
            name="loginId"
            autocomplete="username"
            required
            value={loginId}
            onInput={(e) => setLoginId(e.currentTarget.value)}
          />
        </label>
        <label>
          비밀번호
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <InlineError error={error} />
        <button type="submit" disabled={busy}>
          {busy ? "로그인 중…" : "로그인"}
        </button>
        <p class="switch">
          처음이신가요? <Link href="/signup">회원가입</Link>
        </p>
      </form>
    </main>
  );
}

export function SignUp() {
  useTitle("회원가입");
  const schools = useAsync(() => account.listSchools({ pageSize: 100 }), []);
  const [form, setForm] = useState({ schoolId: "", loginId: "", password: "", nickname: "", emailLocal: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const field = (name: keyof typeof form) => ({
    name,
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <main class="auth-page">
      <h1 class="brand-large">캠퍼스</h1>
      <Show value={schools.result} retry={schools.reload}>
        {({ schools: list }) => {
          const school = list.find((s) => String(s.id) === form.schoolId);
          const submit = async (e: Event) => {
            e.preventDefault();
            if (!school) return;
            setBusy(true);
            setError(null);
            try {
              await auth.signUp({
                schoolId: school.id,
                loginId: form.loginId.trim(),
                password: form.password,
                nickname: form.nickname.trim(),
                email: `${form.emailLocal.trim()}@${school.emailDomain}`,
              });
              // Sign in straight away; fall back to the login page if that fails.
              try {
                await login(form.loginId.trim(), form.password);
                navigate("/", true);
              } catch {
                navigate("/login?joined=1", true);
              }
            } catch (err) {
              setError(err);
            } finally {
              setBusy(false);
            }
          };
          return (
            <form class="card form" onSubmit={submit} aria-labelledby="signup-title">
              <h2 id="signup-title">회원가입</h2>
              <div class="field">
                <label for="signup-school">학교</label>
                <select id="signup-school" required {...field("schoolId")} onChange={field("schoolId").onInput}>
                  <option value="">학교를 고르세요</option>
                  {list.map((s) => (
                    <option key={String(s.id)} value={String(s.id)}>
                      {s.name}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label for="signup-login-id">아이디</label>
                <input
                  id="signup-login-id"
                  {...field("loginId")}
                  autocomplete="username"
                  required
                  minLength={4}
                  maxLength={20}
                  pattern="[a-z0-9_]{4,20}"
                  aria-describedby="login-id-hint"
                />
                <small id="login-id-hint">영문 소문자, 숫자, _ 로 4–20자</small>
              </div>
              <div class="field">
                <label for="signup-password">비밀번호</label>
                <input
                  id="signup-password"
                  {...field("password")}
                  type="password"
                  autocomplete="new-password"
                  required
                  minLength={8}
                  maxLength={64}
                  aria-describedby="password-hint"
                />
                <small id="password-hint">8–64자, 문자와 숫자를 함께</small>
              </div>
              <label>
                닉네임
                <input {...field("nickname")} required minLength={2} maxLength={20} autocomplete="nickname" />
              </label>
              <label>
                학교 이메일
                <span class="email-row">
                  <input
                    {...field("emailLocal")}
                    required
                    autocomplete="email"
                    aria-label="학교 이메일 아이디"
                    pattern="[^@\s]+"
                  />
                  <span class="domain">@{school?.emailDomain ?? "학교 도메인"}</span>
                </span>
              </label>
              <InlineError error={error} />
              <button type="submit" disabled={busy || !school}>
                {busy ? "가입 중…" : "가입하기"}
              </button>
              <p class="switch">
                이미 계정이 있나요? <Link href="/login">로그인</Link>
              </p>
            </form>
          );
        }}
      </Show>
    </main>
  );
}
