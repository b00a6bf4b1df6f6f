// What is mine (my posts, the posts I commented on, my scraps), the school's board directory
// with making a board, and search across the school.

import { useState } from "preact/hooks";
import { board } from "../api";
import { BoardCategory, type Board, type Post } from "../gen/campus/board/v1/board_service_pb";
import { Link, navigate, useQuery } from "../router";
import { ActionButton, Empty, Field, InlineError, ListEnd, Show, useAsync, useInfinite, useSubmit, useTitle } from "../ui";
import { BoardItem, PostItem, SearchForm, togglePinned } from "./boards";

const TABS = [
  { tab: "posts", label: "내가 쓴 글", empty: "아직 쓴 글이 없어요." },
  { tab: "comments", label: "댓글 단 글", empty: "아직 댓글을 단 글이 없어요." },
  { tab: "scraps", label: "스크랩", empty: "아직 스크랩한 글이 없어요." },
] as const;

function useBoardNames() {
  const boards = useAsync(() => board.listBoards({ pageSize: 100 }), []);
  const names = new Map<bigint, string>();
  if (boards.result.state === "ready") boards.result.value.boards.forEach((b) => names.set(b.id, b.name));
  return names;
}

export function MyLists({ tab }: { tab: string }) {
  const current = TABS.find((t) => t.tab === tab) ?? TABS[0];
  useTitle(current.label);
  const names = useBoardNames();
  const posts = useInfinite(
    (pageToken) => {
      const request = { pageSize: 20, pageToken };
      const call =
        current.tab === "posts"
          ? board.listMyPosts(request)
          : current.tab === "comments"
            ? board.listMyCommentedPosts(request)
            : board.listScraps(request);
      return call.then((r) => ({ items: r.posts, nextPageToken: r.nextPageToken }));
    },
    [current.tab],
  );
  const unscrap = async (post: Post) => {
    await board.unscrapPost({ id: post.id });
    posts.setItems(posts.items.filter((p) => p.id !== post.id));
  };
  return (
    <main class="page">
      <header class="page-head">
        <h1>내 정보</h1>
        <Link href="/me/settings" class="button secondary small">
          설정
        </Link>
        <Link href="/boards" class="button secondary small">
          게시판 목록
        </Link>
      </header>
      <nav class="tabs" aria-label="내 글 목록">
        {TABS.map((t) => (
          <Link key={t.tab} href={`/me/${t.tab}`} class={t.tab === current.tab ? "tab active" : "tab"}>
            {t.label}
          </Link>
        ))}
      </nav>
      <section class="card" aria-label={current.label}>
        <ul class="post-list">
          {posts.items.map((p) =>
            current.tab === "scraps" ? (
              <PostItem
                key={String(p.id)}
                post={p}
                boardName={names.get(p.boardId)}
                action={
                  <ActionButton class="secondary small" label={`${p.title} 스크랩 취소`} onClick={() => unscrap(p)}>
                    스크랩 취소
                  </ActionButton>
                }
              />
            ) : (
              <PostItem key={String(p.id)} post={p} boardName={names.get(p.boardId)} />
            ),
          )}
        </ul>
        <ListEnd list={posts} empty={current.empty} />
      </section>
    </main>
  );
}

export const CATEGORY_NAMES: [BoardCategory, string][] = [
  [BoardCategory.GENERAL, "일반"],
  [BoardCategory.SECRET, "비밀"],
  [BoardCategory.ALUMNI, "졸업생"],
  [BoardCategory.FRESHMAN, "새내기"],
  [BoardCategory.ISSUE, "시사·이슈"],
  [BoardCategory.MARKET, "장터"],
  [BoardCategory.INFO, "정보"],
  [BoardCategory.PROMOTION, "홍보"],
  [BoardCategory.CLUB, "동아리·학회"],
];

function NewBoardForm({ onDone, onCancel }: { onDone: (b: Board) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [category, setCategory] = useState(BoardCategory.GENERAL);
  const [hotDisabled, setHotDisabled] = useState(false);
  const { submit, busy, error } = useSubmit(async () =>
    onDone(await board.createBoard({ name: name.trim(), description: description.trim(), category, hotDisabled })),
  );
  return (
    <form class="card form" aria-label="게시판 만들기" onSubmit={submit}>
      <Field label="게시판 이름" name="name" required maxLength={30} value={name} onValue={setName} />
      <Field label="설명" name="description" maxLength={100} value={description} onValue={setDescription} />
      <label>
        분류
        <select value={category} onChange={(e) => setCategory(Number(e.currentTarget.value))}>
          {CATEGORY_NAMES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <div class="form-row">
        <label class="check">
          <input type="checkbox" checked={hotDisabled} onChange={(e) => setHotDisabled(e.currentTarget.checked)} />
          HOT 게시판에 올리지 않기
        </label>
        <span class="spacer" />
        <button type="button" class="secondary" onClick={onCancel}>
          취소
        </button>
        <button type="submit" disabled={busy}>
          만들기
        </button>
      </div>
      <InlineError error={error} />
    </form>
  );
}

export function BoardDirectory() {
  useTitle("게시판 목록");
  const boards = useAsync(() => board.listBoards({ pageSize: 100 }).then((r) => r.boards), []);
  const [making, setMaking] = useState(false);
  const togglePin = async (b: Board) => {
    if (boards.result.state !== "ready") return;
    boards.set(await togglePinned(boards.result.value, b));
  };
  return (
    <main class="page">
      <header class="page-head">
        <h1>게시판 목록</h1>
        {!making && (
          <button type="button" onClick={() => setMaking(true)}>
            게시판 만들기
          </button>
        )}
      </header>
      {making && (
        <NewBoardForm onCancel={() => setMaking(false)} onDone={(b) => navigate(`/boards/${b.id}`)} />
      )}
      <Show value={boards.result} retry={boards.reload}>
        {(list) =>
          list.length === 0 ? (
            <Empty>아직 게시판이 없어요.</Empty>
          ) : (
            <>
              {CATEGORY_NAMES.filter(([c]) => list.some((b) => b.category === c)).map(([c, label]) => (
                <section key={c} class="card" aria-label={`${label} 게시판`}>
                  <h2>{label}</h2>
                  <ul class="board-list">
                    {list
                      .filter((b) => b.category === c)
                      .map((b) => (
                        <BoardItem key={String(b.id)} board={b} onPin={togglePin} />
                      ))}
                  </ul>
                </section>
              ))}
            </>
          )
        }
      </Show>
    </main>
  );
}

export function SchoolSearch() {
  const q = useQuery().get("q") ?? "";
  const [query, setQuery] = useState(q);
  useTitle(q ? `“${q}” 검색` : "전체 검색");
  const names = useBoardNames();
  const posts = useInfinite(
    (pageToken) =>
      q
        ? board
            .searchPosts({ query: q, pageSize: 20, pageToken })
            .then((r) => ({ items: r.posts, nextPageToken: r.nextPageToken }))
        : Promise.resolve({ items: [] as Post[], nextPageToken: "" }),
    [q],
  );
  return (
    <main class="page">
      <header class="page-head">
        <h1>전체 검색</h1>
      </header>
      <SearchForm value={query} onInput={setQuery} />
      <section class="card" aria-label="검색 결과">
        <ul class="post-list">
          {posts.items.map((p) => (
            <PostItem key={String(p.id)} post={p} boardName={names.get(p.boardId)} />
          ))}
        </ul>
        <ListEnd list={posts} empty={q ? "검색 결과가 없어요." : "학교 전체 게시판에서 글을 찾아요."} />
      </section>
    </main>
  );
}

