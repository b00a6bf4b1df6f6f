// My account: the nickname (once every 30 days), the password (every session ends), and
// leaving campus (탈퇴), which asks for the password once more.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { useState } from "preact/hooks";
import { account, session } from "../api";
import type { DeleteMeRequestSchema } from "../gen/campus/account/v1/account_service_pb";
import { Link, navigate } from "../router";
import { Field, InlineError, PasswordField, useSubmit, useTitle } from "../ui";

export function Settings() {
  useTitle("설정");
  return (
    <main class="page">
      <header class="page-head">
        <h1>설정</h1>
        <Link href="/me" class="button secondary small">
          내 글
        </Link>
      </header>
      <NicknameForm />
      <PasswordForm />
      <section class="card" aria-labelledby="leave-title">
        <h2 id="leave-title">탈퇴</h2>
        <p>탈퇴하면 시간표, 성적, 친구가 지워지고 아이디와 이메일을 다시 쓸 수 있게 돼요.</p>
        <Link href="/me/delete" class="button secondary danger">
          탈퇴하기
        </Link>
      </section>
    </main>
  );
}

function NicknameForm() {
  const [nickname, setNickname] = useState(session.user?.nickname ?? "");
  const [done, setDone] = useState(false);
  const { submit, busy, error } = useSubmit(async () => {
    setDone(false);
    session.setUser(await account.updateMe({ nickname: nickname.trim() }));
    setDone(true);
  });
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="nickname-title">
      <h2 id="nickname-title">닉네임 바꾸기</h2>
      <Field
        label="닉네임"
        hint="닉네임은 30일에 한 번 바꿀 수 있어요."
        name="nickname"
        required
        minLength={2}
        maxLength={20}
        autocomplete="nickname"
        value={nickname}
        onValue={setNickname}
      />
      {done && (
        <p class="notice" role="status">
          닉네임을 바꿨어요.
        </p>
      )}
      <InlineError error={error} />
      <button type="submit" disabled={busy}>
        {busy ? "바꾸는 중…" : "닉네임 바꾸기"}
      </button>
    </form>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { submit, busy, error } = useSubmit(async () => {
    await account.changePassword({ currentPassword: current, newPassword: next });
    // Every session, this one's refresh token included, was revoked.
    session.clear();
    navigate("/login?reset=1", true);
  });
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">비밀번호 바꾸기</h2>
      <PasswordField label="현재 비밀번호" name="currentPassword" value={current} onValue={setCurrent} />
      <PasswordField
        isNew
        label="새 비밀번호"
        hint="바꾸면 모든 기기에서 로그아웃돼요."
        name="newPassword"
        value={next}
        onValue={setNext}
      />
      <InlineError error={error} />
      <button type="submit" disabled={busy}>
        {busy ? "바꾸는 중…" : "비밀번호 바꾸기"}
      </button>
    </form>
  );
}

/**
 * DELETE /v1/users/me {password} (DESIGN §7). The request carries the password as the
 * contract says; a generated DeleteMeRequest without that field yet simply omits it.
 */
function deleteRequest(password: string): MessageInitShape<typeof DeleteMeRequestSchema> {
  return { password } as MessageInitShape<typeof DeleteMeRequestSchema>;
}

export function DeleteAccount() {
  useTitle("탈퇴");
  const [password, setPassword] = useState("");
  const [sure, setSure] = useState(false);
  const { submit, busy, error } = useSubmit(async () => {
    await account.deleteMe(deleteRequest(password));
    session.clear();
    navigate("/login?deleted=1", true);
  });
  return (
    <main class="page">
      <header class="page-head">
        <h1>탈퇴</h1>
      </header>
      <form class="card form" onSubmit={submit} aria-labelledby="delete-title">
        <h2 id="delete-title">정말 탈퇴할까요?</h2>
        <ul>
          <li>시간표, 성적, 강의평의 작성자 정보, 친구, 스크랩이 지워져요.</li>
          <li>쓴 글과 댓글은 남고, 이름은 "(알 수 없음)"으로 보여요. 익명 글은 익명 그대로예요.</li>
          <li>주고받은 쪽지는 상대방에게 "(알 수 없음)"으로 남아요.</li>
          <li>아이디와 이메일은 다시 가입할 때 쓸 수 있어요.</li>
        </ul>
        <PasswordField label="비밀번호" name="password" value={password} onValue={setPassword} />
        <label class="check">
          <input type="checkbox" checked={sure} onChange={(e) => setSure(e.currentTarget.checked)} />
          위 내용을 확인했고 탈퇴할게요
        </label>
        <InlineError error={error} />
        <div class="form-row">
          <Link href="/me/settings" class="button secondary">
            취소
          </Link>
          <span class="spacer" />
          <button type="submit" class="danger" disabled={busy || !sure}>
            {busy ? "탈퇴하는 중…" : "탈퇴하기"}
          </button>
        </div>
      </form>
    </main>
  );
}
