-- The lecture catalog. `times` (a JSON array of slots) is what reads return; lecture_slot
-- repeats the slots as rows so searches can filter by day and time window in SQL.
-- code_folded / name_folded / professor_folded are lower-cased by the service (Unicode-aware
-- on both backends) for case-insensitive substring search.
create table lecture (
    id bigint primary key,
    school_id bigint not null,
    year bigint not null,
    semester bigint not null,
    code text not null,
    section text not null,
    name text not null,
    professor text not null,
    credits bigint not null,
    category text not null,
    times text not null,
    code_folded text not null,
    name_folded text not null,
    professor_folded text not null,
    created_at bigint not null,
    updated_at bigint not null
);
-- Re-imports upsert on this key.
create unique index lecture_catalog_key on lecture (school_id, year, semester, code, section);
create index lecture_term_order on lecture (school_id, year, semester, code, id);

create table lecture_slot (
    lecture_id bigint not null references lecture (id) on delete cascade,
    position bigint not null,
    day bigint not null,
    start_minute bigint not null,
    end_minute bigint not null,
    primary key (lecture_id, position)
);
create index lecture_slot_day on lecture_slot (day, lecture_id);

create table timetable (
    id bigint primary key,
    user_id bigint not null,
    school_id bigint not null,
    year bigint not null,
    semester bigint not null,
    name text not null,
    is_primary bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index timetable_owner on timetable (user_id, year, semester, id);
-- Exactly one primary timetable per user and semester.
create unique index timetable_one_primary on timetable (user_id, year, semester) where is_primary = 1;

create table timetable_lecture (
    timetable_id bigint not null references timetable (id) on delete cascade,
    lecture_id bigint not null references lecture (id),
    added_at bigint not null,
    primary key (timetable_id, lecture_id)
);

create table custom_entry (
    id bigint primary key,
    timetable_id bigint not null references timetable (id) on delete cascade,
    title text not null,
    times text not null,
    created_at bigint not null
);
create index custom_entry_timetable on custom_entry (timetable_id, id);

create table review (
    id bigint primary key,
    lecture_id bigint not null references lecture (id),
    user_id bigint not null,
    rating bigint not null,
    content text not null,
    assignments bigint not null,
    team_projects bigint not null,
    grading bigint not null,
    attendance bigint not null,
    exams bigint not null,
    created_at bigint not null,
    updated_at bigint not null
);
create unique index review_one_per_user on review (lecture_id, user_id);
create index review_lecture_order on review (lecture_id, id);

-- One row per user and semester with grades: SetSemesterGrades upserts it first, which
-- serialises concurrent replacements of the same semester on PostgreSQL (row lock).
create table grade_semester (
    user_id bigint not null,
    year bigint not null,
    semester bigint not null,
    updated_at bigint not null,
    primary key (user_id, year, semester)
);

create table grade_course (
    user_id bigint not null,
    year bigint not null,
    semester bigint not null,
    position bigint not null,
    name text not null,
    credits bigint not null,
    grade text not null,
    major bigint not null,
    primary key (user_id, year, semester, position)
);
