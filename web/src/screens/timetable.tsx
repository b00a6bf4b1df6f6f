// The timetable: a weekly grid of the chosen timetable, lecture search with add and remove, the
// TIME_CONFLICT refusal shown next to the lecture that caused it, total credits, and friends
// (requests, and a friend's primary timetable).

import { useState } from "preact/hooks";
import { account, clock, dayName, describe, session, timetable } from "../api";
import type { FriendRequest } from "../gen/campus/account/v1/account_service_pb";
import { FriendRequestState } from "../gen/campus/account/v1/account_service_pb";
import { DayOfWeek, Semester, type Lecture, type Timetable } from "../gen/campus/timetable/v1/timetable_service_pb";
import { Link, navigate } from "../router";
import { ActionButton, Empty, Field, InlineError, ListEnd, SearchBox, Show, useAsync, useInfinite, useSubmit, useTitle } from "../ui";

export const SEMESTER_NAMES: Record<number, string> = {
  [Semester.SPRING]: "1학기",
  [Semester.SUMMER]: "여름학기",
  [Semester.FALL]: "2학기",
  [Semester.WINTER]: "겨울학기",
};

export interface Term {
  year: number;
  semester: Semester;
}

/**
 * The term in progress (or about to start) on a date. The second semester runs to its exams in
 * late December, so December is still 2학기; the winter session is January and February.
 */
export function currentTerm(now = new Date()): Term {
  const month = now.getMonth() + 1;
  const year = now.getFullYear();
  if (month <= 2) return { year: year - 1, semester: Semester.WINTER };
  if (month <= 6) return { year, semester: Semester.SPRING };
  if (month <= 8) return { year, semester: Semester.SUMMER };
  return { year, semester: Semester.FALL };
}

export function termName(t: Term) {
  return `${t.year}년 ${SEMESTER_NAMES[t.semester]}`;
}

function TermPicker({ term, onChange }: { term: Term; onChange: (t: Term) => void }) {
  const now = new Date().getFullYear();
  return (
    <div class="term-picker">
      <label>
        <span class="visually-hidden">연도</span>
        <select value={String(term.year)} onChange={(e) => onChange({ ...term, year: Number(e.currentTarget.value) })}>
          {[now + 1, now, now - 1, now - 2].map((y) => (
            <option key={y} value={String(y)}>
              {y}년
            </option>
          ))}
        </select>
      </label>
      <label>
        <span class="visually-hidden">학기</span>
        <select
          value={String(term.semester)}
          onChange={(e) => onChange({ ...term, semester: Number(e.currentTarget.value) as Semester })}
        >
          {[Semester.SPRING, Semester.SUMMER, Semester.FALL, Semester.WINTER].map((s) => (
            <option key={s} value={String(s)}>
              {SEMESTER_NAMES[s]}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

const COLORS = ["#f2b8a2", "#f7d794", "#b8e0c8", "#a8d1f0", "#c9b8f0", "#f0b8d8", "#d8e6a0", "#a0e0e0"];

interface Block {
  key: string;
  title: string;
  room: string;
  day: number;
  start: number;
  end: number;
  color: string;
  lectureId?: bigint;
}

function blocksOf(t: Timetable): Block[] {
  const blocks: Block[] = [];
  t.lectures.forEach((l, i) =>
    l.times.forEach((s, j) =>
      blocks.push({
        key: `l${l.id}-${j}`,
        title: l.name,
        room: s.room,
        day: s.day,
        start: s.startMinute,
        end: s.endMinute,
        color: COLORS[i % COLORS.length],
        lectureId: l.id,
      }),
    ),
  );
  t.customEntries.forEach((c, i) =>
    c.times.forEach((s, j) =>
      blocks.push({
        key: `c${c.id}-${j}`,
        title: c.title,
        room: s.room,
        day: s.day,
        start: s.startMinute,
        end: s.endMinute,
        color: COLORS[(t.lectures.length + i) % COLORS.length],
      }),
    ),
  );
  return blocks;
}

const HOUR_PX = 52;

/** The weekly grid; days Monday–Friday, plus the weekend when something is on it. */
export function WeekGrid({ table, label }: { table: Timetable; label: string }) {
  const blocks = blocksOf(table);
  const weekend = blocks.some((b) => b.day >= DayOfWeek.SATURDAY);
  const days = weekend ? [1, 2, 3, 4, 5, 6, 7] : [1, 2, 3, 4, 5];
  const first = Math.min(9, ...blocks.map((b) => Math.floor(b.start / 60)));
  const last = Math.max(18, ...blocks.map((b) => Math.ceil(b.end / 60)));
  const hours = Array.from({ length: last - first }, (_, i) => first + i);
  return (
    <figure class="grid-wrap" aria-label={label}>
      <div class="week-grid" style={{ "--days": days.length, "--hour": `${HOUR_PX}px` }} aria-hidden="true">
        <div class="corner" />
        {days.map((d) => (
          <div key={`h${d}`} class="day-head">
            {dayName(d)}
          </div>
        ))}
        <div class="hours" style={{ height: `${hours.length * HOUR_PX}px` }}>
          {hours.map((h) => (
            <div key={h} class="hour">
              {h}
            </div>
          ))}
        </div>
        {days.map((d) => (
          <div key={`d${d}`} class="day-col" style={{ height: `${hours.length * HOUR_PX}px` }}>
            {blocks
              .filter((b) => b.day === d)
              .map((b) => (
                <div
                  key={b.key}
                  class="block"
                  style={{
                    top: `${((b.start - first * 60) / 60) * HOUR_PX}px`,
                    height: `${((b.end - b.start) / 60) * HOUR_PX - 2}px`,
                    background: b.color,
                  }}
                  title={`${b.title} ${clock(b.start)}–${clock(b.end)} ${b.room}`}
                >
                  <strong>{b.title}</strong>
                  <span>{b.room}</span>
                </div>
              ))}
          </div>
        ))}
      </div>
      <figcaption class="visually-hidden">
        {blocks.length === 0
          ? "비어 있는 시간표"
          : blocks.map((b) => `${dayName(b.day)} ${clock(b.start)}–${clock(b.end)} ${b.title}`).join(", ")}
      </figcaption>
    </figure>
  );
}

export function slotsText(l: Lecture) {
  return l.times.map((s) => `${dayName(s.day)} ${clock(s.startMinute)}–${clock(s.endMinute)} ${s.room}`).join(", ");
}

function LectureSearch({ term, table, onChange }: { term: Term; table: Timetable; onChange: (t: Timetable) => void }) {
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  const [day, setDay] = useState(0);
  const [errors, setErrors] = useState<Record<string, unknown>>({});
  const results = useInfinite(
    (pageToken) =>
      timetable
        .listLectures({ year: term.year, semester: term.semester, query: search, day, pageSize: 20, pageToken })
        .then((r) => ({ items: r.lectures, nextPageToken: r.nextPageToken })),
    [term.year, term.semester, search, day],
  );
  const inTable = new Set(table.lectures.map((l) => String(l.id)));

  const add = async (l: Lecture) => {
    setErrors({ ...errors, [String(l.id)]: null });
    try {
      onChange(await timetable.addTimetableLecture({ timetableId: table.id, lectureId: l.id }));
    } catch (e) {
      setErrors({ ...errors, [String(l.id)]: e });
    }
  };

  return (
    <section class="card lecture-search" aria-labelledby="search-title">
      <h2 id="search-title">수업 검색</h2>
      <SearchBox
        id="lecture-query"
        label="과목명 또는 과목 코드"
        placeholder="과목명, 과목 코드"
        value={query}
        onInput={setQuery}
        onSearch={setSearch}
      >
        <label class="visually-hidden" for="lecture-day">
          요일
        </label>
        <select id="lecture-day" value={String(day)} onChange={(e) => setDay(Number(e.currentTarget.value))}>
          <option value="0">모든 요일</option>
          {[1, 2, 3, 4, 5, 6].map((d) => (
            <option key={d} value={String(d)}>
              {dayName(d)}요일
            </option>
          ))}
        </select>
      </SearchBox>
      <ul class="lecture-list">
        {results.items.map((l) => {
          const key = String(l.id);
          const added = inTable.has(key);
          return (
            <li key={key} class="lecture-item" data-lecture={l.code}>
              <div class="lecture-info">
                <p class="lecture-name">
                  {l.name} <span class="meta">{l.professor}</span>
                </p>
                <p class="meta">
                  {l.code}-{l.section} · {l.credits}학점 · {l.category}
                </p>
                <p class="meta">{slotsText(l)}</p>
              </div>
              <div class="lecture-actions">
                <Link href={`/lectures/${l.id}`} class="button secondary small">
                  강의평
                </Link>
                {added ? (
                  <ActionButton
                    class="small secondary"
                    label={`${l.name} 빼기`}
                    onClick={async () => onChange(await timetable.removeTimetableLecture({ timetableId: table.id, lectureId: l.id }))}
                  >
                    빼기
                  </ActionButton>
                ) : (
                  <ActionButton class="small" label={`${l.name} 추가`} onClick={() => add(l)}>
                    추가
                  </ActionButton>
                )}
              </div>
              {errors[key] ? (
                <p class="inline-error conflict" role="alert">
                  {describe(errors[key])}
                </p>
              ) : null}
            </li>
          );
        })}
      </ul>
      <ListEnd list={results} empty="조건에 맞는 수업이 없어요." />
    </section>
  );
}

function TableLectures({ table, onChange }: { table: Timetable; onChange: (t: Timetable) => void }) {
  const [error, setError] = useState<unknown>(null);
  if (table.lectures.length === 0 && table.customEntries.length === 0) {
    return <Empty>아직 수업이 없어요. 아래에서 수업을 검색해 추가해 보세요.</Empty>;
  }
  /** The 빼기 button of one row: `remove` answers with the timetable without it. */
  const removeButton = (name: string, remove: () => Promise<Timetable>) => (
    <ActionButton
      class="small secondary"
      label={`${name} 빼기`}
      onClick={async () => {
        setError(null);
        try {
          onChange(await remove());
        } catch (e) {
          setError(e);
        }
      }}
    >
      빼기
    </ActionButton>
  );
  return (
    <>
      <ul class="table-lectures">
        {table.lectures.map((l) => (
          <li key={String(l.id)}>
            <span>
              <Link href={`/lectures/${l.id}`}>{l.name}</Link>{" "}
              <span class="meta">
                {l.professor} · {l.credits}학점 · {slotsText(l)}
              </span>
            </span>
            {removeButton(l.name, () => timetable.removeTimetableLecture({ timetableId: table.id, lectureId: l.id }))}
          </li>
        ))}
        {table.customEntries.map((c) => (
          <li key={`c${c.id}`}>
            <span>
              {c.title}{" "}
              <span class="meta">
                {c.times.map((s) => `${dayName(s.day)} ${clock(s.startMinute)}–${clock(s.endMinute)}`).join(", ")}
              </span>
            </span>
            {removeButton(c.title, () => timetable.removeCustomEntry({ timetableId: table.id, entryId: c.id }))}
          </li>
        ))}
      </ul>
      <InlineError error={error} />
    </>
  );
}

function minutes(value: string): number {
  const [h, m] = value.split(":").map(Number);
  return h * 60 + m;
}

/** A custom entry (title, day, times, place), refused in place when it overlaps something. */
function CustomEntryForm({ table, onChange }: { table: Timetable; onChange: (t: Timetable) => void }) {
  const [title, setTitle] = useState("");
  const [day, setDay] = useState(1);
  const [start, setStart] = useState("18:00");
  const [end, setEnd] = useState("19:30");
  const [room, setRoom] = useState("");
  const { submit, busy, error } = useSubmit(async () => {
    onChange(
      await timetable.addCustomEntry({
        timetableId: table.id,
        title: title.trim(),
        times: [{ day, startMinute: minutes(start), endMinute: minutes(end), room: room.trim() }],
      }),
    );
    setTitle("");
    setRoom("");
  });
  return (
    <form
      class="inline-form form custom-entry"
      aria-label="일정 추가"
      onSubmit={submit}
    >
      <h3>일정 추가</h3>
      <div class="form-grid">
        <Field label="일정 이름" required maxLength={50} value={title} onValue={setTitle} />
        <label>
          일정 요일
          <select value={String(day)} onChange={(e) => setDay(Number(e.currentTarget.value))}>
            {[1, 2, 3, 4, 5, 6, 7].map((d) => (
              <option key={d} value={String(d)}>
                {dayName(d)}요일
              </option>
            ))}
          </select>
        </label>
        <Field label="시작 시각" type="time" required step={300} value={start} onValue={setStart} />
        <Field label="끝 시각" type="time" required step={300} value={end} onValue={setEnd} />
        <Field label="장소" maxLength={50} value={room} onValue={setRoom} />
      </div>
      <div class="form-row">
        <span class="spacer" />
        <button type="submit" disabled={busy}>
          일정 추가
        </button>
      </div>
      {error ? (
        <p class="inline-error conflict" role="alert">
          {describe(error)}
        </p>
      ) : null}
    </form>
  );
}

/** Rename or delete the timetable in view. */
function TableSettings({
  table,
  onRenamed,
  onDeleted,
}: {
  table: Timetable;
  onRenamed: (t: Timetable) => void;
  onDeleted: () => void;
}) {
  const [name, setName] = useState(table.name);
  const [error, setError] = useState<unknown>(null);
  return (
    <form
      class="inline-form table-settings"
      aria-label="시간표 설정"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          onRenamed(await timetable.updateTimetable({ id: table.id, name: name.trim() }));
        } catch (err) {
          setError(err);
        }
      }}
    >
      <div class="form-row">
        <label class="grow">
          시간표 이름
          <input required maxLength={30} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="secondary">
          이름 바꾸기
        </button>
        <ActionButton
          class="secondary danger"
          onClick={async () => {
            if (!confirm(`「${table.name}」 시간표를 삭제할까요?`)) return;
            setError(null);
            try {
              await timetable.deleteTimetable({ id: table.id });
              onDeleted();
            } catch (err) {
              setError(err);
            }
          }}
        >
          시간표 삭제
        </ActionButton>
      </div>
      <InlineError error={error} />
    </form>
  );
}

export function TimetableScreen() {
  const [term, setTerm] = useState<Term>(currentTerm());
  const [selected, setSelected] = useState<bigint | null>(null);
  const [error, setError] = useState<unknown>(null);
  useTitle("시간표");
  const tables = useAsync(
    () => timetable.listTimetables({ year: term.year, semester: term.semester }).then((r) => r.timetables),
    [term.year, term.semester],
  );
  const create = async () => {
    setError(null);
    try {
      const t = await timetable.createTimetable({ year: term.year, semester: term.semester, name: "" });
      if (tables.result.state === "ready") tables.set([...tables.result.value, t]);
      setSelected(t.id);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <main class="page timetable-page">
      <header class="page-head">
        <h1>시간표</h1>
        <TermPicker
          term={term}
          onChange={(t) => {
            setTerm(t);
            setSelected(null);
          }}
        />
      </header>
      <Show value={tables.result} retry={tables.reload}>
        {(list) => {
          if (list.length === 0) {
            return (
              <section class="card">
                <Empty>{termName(term)} 시간표가 아직 없어요.</Empty>
                <div class="center">
                  <button type="button" onClick={create}>
                    새 시간표 만들기
                  </button>
                </div>
                <InlineError error={error} />
              </section>
            );
          }
          const table = list.find((t) => t.id === selected) ?? list.find((t) => t.primary) ?? list[0];
          const replace = (t: Timetable) => tables.set(list.map((x) => (x.id === t.id ? t : x)));
          return (
            <>
              <div class="table-tabs" role="group" aria-label="내 시간표">
                {list.map((t) => (
                  <button
                    key={String(t.id)}
                    type="button"
                    class={t.id === table.id ? "tab active" : "tab"}
                    aria-pressed={t.id === table.id}
                    onClick={() => setSelected(t.id)}
                  >
                    {t.name}
                    {t.primary && <span class="meta"> (기본)</span>}
                  </button>
                ))}
                <button type="button" class="tab add" onClick={create} aria-label="새 시간표 만들기">
                  ＋
                </button>
                {!table.primary && (
                  <ActionButton
                    class="small secondary"
                    onClick={async () => {
                      await timetable.updateTimetable({ id: table.id, primary: true });
                      tables.reload();
                    }}
                  >
                    기본 시간표로
                  </ActionButton>
                )}
              </div>
              <InlineError error={error} />
              <div class="timetable-layout">
                <section class="card" aria-labelledby="table-title">
                  <h2 id="table-title" class="section-head">
                    {table.name} <span class="credits">총 {table.totalCredits}학점</span>
                  </h2>
                  <WeekGrid table={table} label={`${table.name} 주간 시간표`} />
                  <TableLectures table={table} onChange={replace} />
                  <CustomEntryForm key={String(table.id)} table={table} onChange={replace} />
                  <TableSettings
                    key={`s${table.id}`}
                    table={table}
                    onRenamed={replace}
                    onDeleted={() => {
                      setSelected(null);
                      tables.reload();
                    }}
                  />
                </section>
                <LectureSearch term={term} table={table} onChange={replace} />
              </div>
            </>
          );
        }}
      </Show>
      <Friends term={term} />
    </main>
  );
}

function Friends({ term }: { term: Term }) {
  const friends = useAsync(() => account.listFriends({ pageSize: 100 }), []);
  const requests = useAsync(() => account.listFriendRequests({ pageSize: 100 }), []);
  const [loginId, setLoginId] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [sent, setSent] = useState("");

  const answer = async (r: FriendRequest, accept: boolean) => {
    setError(null);
    try {
      if (accept) await account.acceptFriendRequest({ id: r.id });
      else await account.declineFriendRequest({ id: r.id });
      requests.reload();
      friends.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section class="card friends" aria-labelledby="friends-title">
      <h2 id="friends-title">친구 시간표</h2>
      <Show value={friends.result} retry={friends.reload}>
        {({ friends: list }) =>
          list.length === 0 ? (
            <Empty>아직 친구가 없어요. 아이디로 친구 요청을 보내 보세요.</Empty>
          ) : (
            <ul class="friend-list">
              {list.map((f) => (
                <li key={String(f.user?.id)}>
                  <Link href={`/friends/${f.user?.id}?year=${term.year}&semester=${term.semester}`}>
                    {f.user?.nickname}
                  </Link>
                  <ActionButton
                    class="link danger"
                    label={`${f.user?.nickname} 친구 끊기`}
                    onClick={async () => {
                      if (!confirm(`${f.user?.nickname}님을 친구에서 삭제할까요?`)) return;
                      setError(null);
                      try {
                        await account.deleteFriend({ userId: f.user?.id ?? 0n });
                        friends.reload();
                      } catch (e) {
                        setError(e);
                      }
                    }}
                  >
                    삭제
                  </ActionButton>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      <Show value={requests.result} retry={requests.reload}>
        {({ friendRequests }) => {
          const pending = friendRequests.filter((r) => r.state === FriendRequestState.PENDING);
          if (pending.length === 0) return null;
          return (
            <ul class="request-list" aria-label="친구 요청">
              {pending.map((r) => (
                <li key={String(r.id)}>
                  <span>
                    {r.requester?.nickname} → {r.recipient?.nickname}
                  </span>
                  <span class="spacer" />
                  {r.requester?.id === session.user?.id ? (
                    <span class="meta">수락을 기다리는 중</span>
                  ) : (
                    <>
                  <ActionButton class="small" onClick={() => answer(r, true)} label={`${r.requester?.nickname}의 요청 수락`}>
                    수락
                  </ActionButton>
                  <ActionButton class="small secondary" onClick={() => answer(r, false)} label={`${r.requester?.nickname}의 요청 거절`}>
                    거절
                  </ActionButton>
                    </>
                  )}
                </li>
              ))}
            </ul>
          );
        }}
      </Show>
      <form
        class="search"
        onSubmit={async (e) => {
          e.preventDefault();
          setError(null);
          setSent("");
          try {
            await account.createFriendRequest({ loginId: loginId.trim() });
            setSent(`${loginId.trim()}님에게 친구 요청을 보냈어요.`);
            setLoginId("");
            requests.reload();
          } catch (err) {
            setError(err);
          }
        }}
      >
        <label class="visually-hidden" for="friend-login-id">
          친구 아이디
        </label>
        <input
          id="friend-login-id"
          placeholder="친구 아이디"
          required
          value={loginId}
          onInput={(e) => setLoginId(e.currentTarget.value)}
        />
        <button type="submit" class="secondary">
          친구 요청
        </button>
      </form>
      {sent && (
        <p class="notice" role="status">
          {sent}
        </p>
      )}
      <InlineError error={error} />
    </section>
  );
}

export function FriendTimetable({ userId }: { userId: string }) {
  const params = new URLSearchParams(location.search);
  const fallback = currentTerm();
  const term: Term = {
    year: Number(params.get("year")) || fallback.year,
    semester: (Number(params.get("semester")) || fallback.semester) as Semester,
  };
  const id = BigInt(userId);
  const profile = useAsync(() => account.getUser({ id }), [userId]);
  const table = useAsync(
    () => timetable.getFriendTimetable({ userId: id, year: term.year, semester: term.semester }),
    [userId, term.year, term.semester],
  );
  const name = profile.result.state === "ready" ? profile.result.value.nickname : "친구";
  useTitle(`${name}의 시간표`);
  return (
    <main class="page">
      <p class="back">
        <Link href="/timetable">← 내 시간표</Link>
      </p>
      <header class="page-head">
        <h1>{name}의 시간표</h1>
        <TermPicker term={term} onChange={(t) => navigate(`/friends/${userId}?year=${t.year}&semester=${t.semester}`, true)} />
      </header>
      <section class="card">
        <Show value={table.result} retry={table.reload}>
          {(t) => (
            <>
              <h2 class="section-head">
                {termName(term)} <span class="credits">총 {t.totalCredits}학점</span>
              </h2>
              <WeekGrid table={t} label={`${name}의 주간 시간표`} />
            </>
          )}
        </Show>
      </section>
    </main>
  );
}
