// The GPA calculator (학점계산기): the overall and major GPA on the 4.5 scale, each semester's,
// and an editor for one semester's courses. The server computes every number.

import { useEffect, useState } from "preact/hooks";
import { timetable } from "../api";
import type { Grades } from "../gen/campus/timetable/v1/timetable_service_pb";
import { InlineError, Show, useAsync, useTitle } from "../ui";
import { currentTerm, termName, type Term } from "./timetable";
import { Semester } from "../gen/campus/timetable/v1/timetable_service_pb";

const GRADES = ["A+", "A0", "B+", "B0", "C+", "C0", "D+", "D0", "F", "P", "NP"];

interface Row {
  name: string;
  credits: number;
  grade: string;
  major: boolean;
}

const blank = (): Row => ({ name: "", credits: 3, grade: "A+", major: false });

function Summary({ grades }: { grades: Grades }) {
  return (
    <dl class="gpa-summary">
      <div>
        <dt>전체 평점</dt>
        <dd>
          <strong data-testid="gpa">{grades.gpa.toFixed(2)}</strong> <span class="meta">/ 4.5</span>
        </dd>
      </div>
      <div>
        <dt>전공 평점</dt>
        <dd>
          <strong>{grades.majorGpa.toFixed(2)}</strong> <span class="meta">/ 4.5</span>
        </dd>
      </div>
      <div>
        <dt>취득 학점</dt>
        <dd>
          <strong>{grades.totalCredits}</strong>
        </dd>
      </div>
    </dl>
  );
}

function SemesterEditor({ term, grades, onSaved }: { term: Term; grades: Grades; onSaved: (g: Grades) => void }) {
  const existing = grades.semesters.find((s) => s.year === term.year && s.semester === term.semester);
  const fromServer = () =>
    existing && existing.courses.length > 0
      ? existing.courses.map((c) => ({ name: c.name, credits: c.credits, grade: c.grade, major: c.major }))
      : [blank(), blank(), blank()];
  const [rows, setRows] = useState<Row[]>(fromServer);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setRows(fromServer()), [term.year, term.semester, grades]);

  const update = (i: number, patch: Partial<Row>) => {
    setSaved(false);
    setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  };

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const courses = rows.filter((r) => r.name.trim() !== "").map((r) => ({ ...r, name: r.name.trim() }));
      onSaved(await timetable.setSemesterGrades({ year: term.year, semester: term.semester, courses }));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form class="gpa-form" onSubmit={save} aria-label={`${termName(term)} 성적`}>
      <table class="courses">
        <thead>
          <tr>
            <th scope="col">과목명</th>
            <th scope="col">학점</th>
            <th scope="col">성적</th>
            <th scope="col">전공</th>
            <th scope="col">
              <span class="visually-hidden">삭제</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td>
                <input
                  aria-label={`${i + 1}번째 과목명`}
                  value={r.name}
                  maxLength={100}
                  onInput={(e) => update(i, { name: e.currentTarget.value })}
                />
              </td>
              <td>
                <input
                  aria-label={`${i + 1}번째 과목 학점`}
                  type="number"
                  min={0}
                  max={20}
                  value={String(r.credits)}
                  onInput={(e) => update(i, { credits: Number(e.currentTarget.value) })}
                />
              </td>
              <td>
                <select aria-label={`${i + 1}번째 과목 성적`} value={r.grade} onChange={(e) => update(i, { grade: e.currentTarget.value })}>
                  {GRADES.map((g) => (
                    <option key={g}>{g}</option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`${i + 1}번째 과목 전공 여부`}
                  checked={r.major}
                  onChange={(e) => update(i, { major: e.currentTarget.checked })}
                />
              </td>
              <td>
                <button
                  type="button"
                  class="icon"
                  aria-label={`${i + 1}번째 과목 삭제`}
                  onClick={() => setRows(rows.filter((_, j) => j !== i))}
                >
                  ✕
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="form-row">
        <button type="button" class="secondary" onClick={() => setRows([...rows, blank()])}>
          과목 추가
        </button>
        <span class="spacer" />
        <button type="submit">저장하고 계산</button>
      </div>
      {saved && (
        <p class="notice" role="status">
          저장했어요.
        </p>
      )}
      <InlineError error={error} />
    </form>
  );
}

export function GpaCalculator() {
  useTitle("학점계산기");
  const [term, setTerm] = useState<Term>(currentTerm());
  const grades = useAsync(() => timetable.getGrades({}), []);
  const terms: Term[] = [];
  for (let year = term.year + 1; year >= term.year - 5; year--) {
    for (const semester of [Semester.WINTER, Semester.FALL, Semester.SUMMER, Semester.SPRING]) terms.push({ year, semester });
  }
  return (
    <main class="page">
      <header class="page-head">
        <h1>학점계산기</h1>
      </header>
      <Show value={grades.result} retry={grades.reload}>
        {(g) => (
          <>
            <section class="card" aria-label="평점 요약">
              <Summary grades={g} />
              {g.semesters.length > 0 && (
                <ul class="semester-chips">
                  {g.semesters.map((s) => (
                    <li key={`${s.year}-${s.semester}`}>
                      <button
                        type="button"
                        class={s.year === term.year && s.semester === term.semester ? "chip active" : "chip"}
                        onClick={() => setTerm({ year: s.year, semester: s.semester })}
                      >
                        {termName(s)} <strong>{s.gpa.toFixed(2)}</strong>
                        <span class="meta"> {s.credits}학점</span>
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section class="card" aria-labelledby="semester-title">
              <h2 id="semester-title" class="section-head">
                <label>
                  <span class="visually-hidden">학기 고르기</span>
                  <select
                    value={`${term.year}-${term.semester}`}
                    onChange={(e) => {
                      const [y, s] = e.currentTarget.value.split("-").map(Number);
                      setTerm({ year: y, semester: s as Semester });
                    }}
                  >
                    {terms.map((t) => (
                      <option key={`${t.year}-${t.semester}`} value={`${t.year}-${t.semester}`}>
                        {termName(t)}
                      </option>
                    ))}
                  </select>
                </label>
              </h2>
              <SemesterEditor term={term} grades={g} onSaved={grades.set} />
            </section>
          </>
        )}
      </Show>
    </main>
  );
}
