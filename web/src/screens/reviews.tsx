// A lecture's reviews (강의평): the rating with each attribute's distribution, the reviews,
// and the form for one's own.

import { useState } from "preact/hooks";
import { ago, timetable } from "../api";
import {
  Amount,
  Attendance,
  Grading,
  type LectureRating,
  type Review,
} from "../gen/campus/timetable/v1/timetable_service_pb";
import { Link } from "../router";
import { ActionButton, InlineError, ListEnd, Show, useAsync, useInfinite, useSubmit, useTitle } from "../ui";
import { SEMESTER_NAMES, slotsText } from "./timetable";

const AMOUNT: Record<number, string> = { [Amount.MANY]: "많음", [Amount.NORMAL]: "보통", [Amount.NONE]: "없음" };
const GRADING: Record<number, string> = {
  [Grading.GENEROUS]: "너그러움",
  [Grading.NORMAL]: "보통",
  [Grading.STRICT]: "깐깐함",
};
const ATTENDANCE: Record<number, string> = {
  [Attendance.MIXED]: "혼용",
  [Attendance.ROLL_CALL]: "직접호명",
  [Attendance.ASSIGNED_SEATS]: "지정좌석",
  [Attendance.ELECTRONIC]: "전자출결",
  [Attendance.NONE]: "반영안함",
};
const EXAMS = ["없음", "한 번", "두 번", "세 번", "네 번 이상"];

// The rating's distributions are keyed by the enums' full names (AMOUNT_MANY, …).
const AMOUNT_KEYS: Record<string, string> = { AMOUNT_MANY: "많음", AMOUNT_NORMAL: "보통", AMOUNT_NONE: "없음" };
const GRADING_KEYS: Record<string, string> = {
  GRADING_GENEROUS: "너그러움",
  GRADING_NORMAL: "보통",
  GRADING_STRICT: "깐깐함",
};
const ATTENDANCE_KEYS: Record<string, string> = {
  ATTENDANCE_MIXED: "혼용",
  ATTENDANCE_ROLL_CALL: "직접호명",
  ATTENDANCE_ASSIGNED_SEATS: "지정좌석",
  ATTENDANCE_ELECTRONIC: "전자출결",
  ATTENDANCE_NONE: "반영안함",
};

function Stars({ value, label }: { value: number; label?: string }) {
  const full = Math.round(value);
  return (
    <span class="stars" role="img" aria-label={label ?? `별점 ${value.toFixed(1)}점`}>
      {"★".repeat(full)}
      <span class="off">{"★".repeat(5 - full)}</span>
    </span>
  );
}

/** Every option of an attribute with its share of the reviews, as a bar. */
function Distribution({ title, counts, names }: { title: string; counts: Record<string, number>; names: Record<string, string> }) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  return (
    <div class="dist">
      <dt>{title}</dt>
      <dd>
        <ul class="dist-bars" aria-label={`${title} 분포`}>
          {Object.entries(names).map(([key, name]) => {
            const n = counts[key] ?? 0;
            const share = Math.round((n / total) * 100);
            return (
              <li key={key}>
                <span class="dist-name">{name}</span>
                <span class="bar" aria-hidden="true">
                  <span style={{ width: `${share}%` }} />
                </span>
                <span class="meta">
                  {share}% ({n})
                </span>
              </li>
            );
          })}
        </ul>
      </dd>
    </div>
  );
}

function RatingSummary({ rating }: { rating: LectureRating }) {
  if (rating.count === 0) return <p class="state empty">아직 강의평이 없어요.</p>;
  const exams: Record<string, number> = {};
  Object.entries(rating.exams).forEach(([k, v]) => (exams[k] = v));
  return (
    <div class="rating-summary">
      <p class="rating-big">
        <strong>{rating.average.toFixed(1)}</strong> <Stars value={rating.average} /> <span class="meta">강의평 {rating.count}개</span>
      </p>
      <dl class="dists">
        <Distribution title="과제" counts={rating.assignments} names={AMOUNT_KEYS} />
        <Distribution title="조모임" counts={rating.teamProjects} names={AMOUNT_KEYS} />
        <Distribution title="성적" counts={rating.grading} names={GRADING_KEYS} />
        <Distribution title="출결" counts={rating.attendance} names={ATTENDANCE_KEYS} />
        <Distribution title="시험" counts={exams} names={Object.fromEntries(EXAMS.map((e, i) => [String(i), e]))} />
      </dl>
    </div>
  );
}

function ReviewForm({
  lectureId,
  existing,
  onDone,
  onCancel,
}: {
  lectureId: bigint;
  existing?: Review;
  onDone: () => void;
  onCancel: () => void;
}) {
  const [rating, setRating] = useState(existing?.rating ?? 5);
  const [content, setContent] = useState(existing?.content ?? "");
  const [assignments, setAssignments] = useState<Amount>(existing?.assignments ?? Amount.NORMAL);
  const [teamProjects, setTeamProjects] = useState<Amount>(existing?.teamProjects ?? Amount.NONE);
  const [grading, setGrading] = useState<Grading>(existing?.grading ?? Grading.NORMAL);
  const [attendance, setAttendance] = useState<Attendance>(existing?.attendance ?? Attendance.ELECTRONIC);
  const [exams, setExams] = useState(existing?.exams ?? 2);
  const { submit, busy, error } = useSubmit(async () => {
    const fields = { rating, content: content.trim(), assignments, teamProjects, grading, attendance, exams };
    if (existing) await timetable.updateLectureReview({ id: existing.id, ...fields });
    else await timetable.createLectureReview({ lectureId, ...fields });
    setContent("");
    onDone();
  });
  const select = <T extends number>(label: string, value: T, set: (v: T) => void, options: Record<number, string>) => (
    <label>
      {label}
      <select value={String(value)} onChange={(e) => set(Number(e.currentTarget.value) as T)}>
        {Object.entries(options).map(([k, v]) => (
          <option key={k} value={k}>
            {v}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form
      class="form review-form"
      aria-label={existing ? "강의평 수정" : "강의평 쓰기"}
      onSubmit={submit}
    >
      <fieldset class="star-input">
        <legend>별점</legend>
        {[1, 2, 3, 4, 5].map((n) => (
          <label key={n} class="star-option">
            <input type="radio" name="rating" value={String(n)} checked={rating === n} onChange={() => setRating(n)} />
            <span aria-hidden="true" class={n <= rating ? "on" : "off"}>
              ★
            </span>
            <span class="visually-hidden">{n}점</span>
          </label>
        ))}
      </fieldset>
      <div class="form-grid">
        {select("과제", assignments, setAssignments, AMOUNT)}
        {select("조모임", teamProjects, setTeamProjects, AMOUNT)}
        {select("성적", grading, setGrading, GRADING)}
        {select("출결", attendance, setAttendance, ATTENDANCE)}
        {select("시험 횟수", exams, setExams, Object.fromEntries(EXAMS.map((e, i) => [i, e])))}
      </div>
      <label>
        총평
        <textarea required rows={4} maxLength={2000} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
      </label>
      <InlineError error={error} />
      <div class="form-row">
        <span class="spacer" />
        <button type="button" class="secondary" onClick={onCancel}>
          취소
        </button>
        <button type="submit" disabled={busy}>
          {existing ? "강의평 수정 완료" : "강의평 등록"}
        </button>
      </div>
    </form>
  );
}

function ReviewItem({ review, onEdit, onDeleted }: { review: Review; onEdit: () => void; onDeleted: () => void }) {
  const [error, setError] = useState<unknown>(null);
  return (
    <li class="review">
      <p>
        <Stars value={review.rating} label={`별점 ${review.rating}점`} /> <span class="meta">{ago(review.createdAt)}</span>
        {review.isMine && <span class="badge mine">내 강의평</span>}
      </p>
      <p class="meta">
        과제 {AMOUNT[review.assignments] ?? "-"} · 조모임 {AMOUNT[review.teamProjects] ?? "-"} · 성적{" "}
        {GRADING[review.grading] ?? "-"} · 출결 {ATTENDANCE[review.attendance] ?? "-"} · 시험 {EXAMS[review.exams] ?? "-"}
      </p>
      <p class="review-content">{review.content}</p>
      {review.isMine && (
        <div class="comment-actions" role="group" aria-label="내 강의평 메뉴">
          <button type="button" class="link" onClick={onEdit}>
            수정
          </button>
          <ActionButton
            class="link danger"
            onClick={async () => {
              if (!confirm("이 강의평을 삭제할까요?")) return;
              setError(null);
              try {
                await timetable.deleteLectureReview({ id: review.id });
                onDeleted();
              } catch (e) {
                setError(e);
              }
            }}
          >
            삭제
          </ActionButton>
        </div>
      )}
      <InlineError error={error} />
    </li>
  );
}

export function LectureReviews({ id }: { id: string }) {
  const lectureId = BigInt(id);
  const lecture = useAsync(() => timetable.getLecture({ id: lectureId }), [id]);
  const rating = useAsync(() => timetable.getLectureRating({ lectureId }), [id]);
  const reviews = useInfinite(
    (pageToken) =>
      timetable
        .listLectureReviews({ lectureId, pageSize: 20, pageToken })
        .then((r) => ({ items: r.reviews, nextPageToken: r.nextPageToken })),
    [id],
  );
  const [writing, setWriting] = useState<Review | "new" | null>(null);
  const changed = () => {
    setWriting(null);
    rating.reload();
    reviews.reload();
  };
  useTitle(lecture.result.state === "ready" ? `${lecture.result.value.name} 강의평` : "강의평");
  const mine = reviews.items.some((r) => r.isMine);
  return (
    <main class="page">
      <p class="back">
        <Link href="/timetable">← 시간표</Link>
      </p>
      <Show value={lecture.result} retry={lecture.reload}>
        {(l) => (
          <header class="page-head">
            <div>
              <h1>{l.name}</h1>
              <p class="desc">
                {l.professor} · {l.code}-{l.section} · {l.credits}학점 · {l.year}년 {SEMESTER_NAMES[l.semester]}
              </p>
              <p class="desc">{slotsText(l)}</p>
            </div>
          </header>
        )}
      </Show>
      <section class="card" aria-labelledby="rating-title">
        <h2 id="rating-title">강의 평가</h2>
        <Show value={rating.result} retry={rating.reload}>
          {(r) => <RatingSummary rating={r} />}
        </Show>
        {!mine && !writing && (
          <button type="button" onClick={() => setWriting("new")}>
            강의평 쓰기
          </button>
        )}
        {writing && (
          <ReviewForm
            key={writing === "new" ? "new" : String(writing.id)}
            lectureId={lectureId}
            existing={writing === "new" ? undefined : writing}
            onDone={changed}
            onCancel={() => setWriting(null)}
          />
        )}
      </section>
      <section class="card" aria-labelledby="reviews-title">
        <h2 id="reviews-title">강의평</h2>
        <ul class="review-list">
          {reviews.items.map((r) => (
            <ReviewItem key={String(r.id)} review={r} onEdit={() => setWriting(r)} onDeleted={changed} />
          ))}
        </ul>
        <ListEnd list={reviews} empty="첫 강의평을 남겨 보세요." />
      </section>
    </main>
  );
}
