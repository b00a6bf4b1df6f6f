// The school's boards (pinned first), a board's posts with infinite scroll and the writing
// form, and the HOT / BEST lists.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ago, board } from "../api";
import type { Board, Post } from "../gen/campus/board/v1/board_service_pb";
import { Icon } from "../icons";
import { Link, navigate } from "../router";
import { ActionButton, Empty, Field, InlineError, ListEnd, SearchBox, Show, useAsync, useInfinite, useSubmit, useTitle } from "../ui";

export function PostItem({ post, boardName, action }: { post: Post; boardName?: string; action?: ComponentChildren }) {
  return (
    <li class={action ? "post-item with-action" : "post-item"}>
      <Link href={`/posts/${post.id}`} class="post-link">
        <span class="post-title">
          {post.isBest ? <span class="badge best">BEST</span> : post.isHot ? <span class="badge hot">HOT</span> : null}
          {post.title}
        </span>
        {/* Lists carry only the preview (the full content comes with GetPost). */}
        <span class="post-snippet">{post.contentPreview}</span>
        <span class="meta">
          {boardName && <span class="board-name">{boardName}</span>}
          <span>{ago(post.createdAt)}</span>
          <span>{post.author?.displayName}</span>
          <span class="counts">
            <span class="count-like" aria-label={`공감 ${post.likeCount}`}>
              ♥ {post.likeCount}
            </span>
            <span class="count-comment" aria-label={`댓글 ${post.commentCount}`}>
              <Icon name="chat" size={13} /> {post.commentCount}
            </span>
            {post.photoCount > 0 && (
              <span class="count-photo" aria-label={`사진 ${post.photoCount}장`}>
                <Icon name="photo" size={13} /> {post.photoCount}
              </span>
            )}
          </span>
        </span>
      </Link>
      {action}
    </li>
  );
}

/** Pins `b` or unpins it; returns `boards` with `b` in its new state. */
export async function togglePinned(boards: Board[], b: Board): Promise<Board[]> {
  if (b.pinned) await board.unpinBoard({ boardId: b.id });
  else await board.pinBoard({ boardId: b.id });
  return boards.map((x) => (x.id === b.id ? { ...x, pinned: !b.pinned } : x));
}

/** A board in a list: its name and description, and the star that pins it. */
export function BoardItem({ board: b, onPin }: { board: Board; onPin: (b: Board) => Promise<unknown> }) {
  return (
    <li class={b.pinned ? "pinned" : ""}>
      <Link href={`/boards/${b.id}`} class="board-link">
        <span class="board-title">{b.name}</span>
        <span class="board-desc">{b.description}</span>
      </Link>
      <ActionButton
        class="icon pin"
        label={b.pinned ? `${b.name} 고정 해제` : `${b.name} 고정`}
        pressed={b.pinned}
        onClick={() => onPin(b)}
      >
        {b.pinned ? "★" : "☆"}
      </ActionButton>
    </li>
  );
}

function sortPinnedFirst(boards: Board[]): Board[] {
  return [...boards].sort((a, b) => Number(b.pinned) - Number(a.pinned));
}

export function Home() {
  useTitle("");
  const [search, setSearch] = useState("");
  const boards = useAsync(() => board.listBoards({ pageSize: 100 }).then((r) => sortPinnedFirst(r.boards)), []);
  const hot = useAsync(() => board.listHotPosts({ pageSize: 4 }), []);

  const togglePin = async (b: Board) => {
    if (boards.result.state !== "ready") return;
    boards.set(sortPinnedFirst(await togglePinned(boards.result.value, b)));
  };

  return (
    <main class="page home">
      <SearchForm value={search} onInput={setSearch} />
      <section aria-labelledby="boards-title" class="card">
        <h1 id="boards-title" class="section-head">
          게시판 <Link href="/boards">전체 보기</Link>
        </h1>
        <Show value={boards.result} retry={boards.reload}>
          {(list) =>
            list.length === 0 ? (
              <Empty>아직 게시판이 없어요.</Empty>
            ) : (
              <ul class="board-list">
                {list.map((b) => (
                  <BoardItem key={String(b.id)} board={b} onPin={togglePin} />
                ))}
              </ul>
            )
          }
        </Show>
      </section>
      <section aria-labelledby="hot-title" class="card">
        <h2 id="hot-title" class="section-head">
          HOT 게시물 <Link href="/hot">더 보기</Link>
        </h2>
        <Show value={hot.result} retry={hot.reload}>
          {({ posts }) =>
            posts.length === 0 ? (
              <Empty>공감 10개를 받은 글이 여기에 올라와요.</Empty>
            ) : (
              <ul class="post-list">
                {posts.map((p) => (
                  <PostItem key={String(p.id)} post={p} />
                ))}
              </ul>
            )
          }
        </Show>
      </section>
    </main>
  );
}

interface Picked {
  file: File;
  url: string;
}

/** Uploads the photos of a new post one after another, reporting how many are done. */
async function uploadPhotos(postId: bigint, photos: Picked[], progress: (done: number) => void) {
  for (let i = 0; i < photos.length; i++) {
    progress(i);
    const data = new Uint8Array(await photos[i].file.arrayBuffer());
    await board.uploadPhoto({ postId, photo: { contentType: photos[i].file.type, data } });
  }
  progress(photos.length);
}

function WriteForm({ boardId, onDone, onCancel }: { boardId: bigint; onDone: (post: Post) => void; onCancel: () => void }) {
  const [title, setTitle] = useState("");
  const [content, setContent] = useState("");
  const [anonymous, setAnonymous] = useState(true);
  const [photos, setPhotos] = useState<Picked[]>([]);
  const [uploaded, setUploaded] = useState<number | null>(null);
  const [created, setCreated] = useState<Post | null>(null);
  const { submit, busy, error } = useSubmit(async () => {
    // After a failed upload, the post exists already: only the photos are tried again.
    const post = created ?? (await board.createPost({ boardId, title: title.trim(), content, anonymous }));
    setCreated(post);
    if (photos.length > 0) await uploadPhotos(post.id, photos, setUploaded);
    onDone(post);
  });
  const titleRef = useRef<HTMLInputElement>(null);
  // Keyboard users land in the form they opened.
  useEffect(() => titleRef.current?.focus(), []);
  const shown = useRef<Picked[]>([]);
  shown.current = photos;
  useEffect(() => () => shown.current.forEach((p) => URL.revokeObjectURL(p.url)), []);
  const pick = (files: FileList | null) => {
    const added = Array.from(files ?? []).map((file) => ({ file, url: URL.createObjectURL(file) }));
    setPhotos((old) => [...old, ...added].slice(0, 20));
  };
  return (
    <form class="card form write" onSubmit={submit} aria-label="글쓰기">
      <Field ref={titleRef} label="제목" name="title" required maxLength={100} value={title} disabled={!!created} onValue={setTitle} />
      <label>
        내용
        <textarea
          name="content"
          required
          maxLength={10000}
          rows={6}
          value={content}
          disabled={!!created}
          onInput={(e) => setContent(e.currentTarget.value)}
        />
      </label>
      <label>
        사진 첨부 <small>JPEG, PNG, WebP, GIF · 20장까지</small>
        <input
          type="file"
          name="photos"
          accept="image/jpeg,image/png,image/webp,image/gif"
          multiple
          onChange={(e) => {
            pick(e.currentTarget.files);
            e.currentTarget.value = "";
          }}
        />
      </label>
      {photos.length > 0 && (
        <ul class="photo-picker" aria-label="첨부할 사진">
          {photos.map((p, i) => (
            <li key={p.url}>
              <img src={p.url} alt={`첨부할 사진 ${i + 1}: ${p.file.name}`} />
              <button
                type="button"
                class="secondary small"
                aria-label={`사진 ${i + 1} 빼기`}
                disabled={busy}
                onClick={() => {
                  URL.revokeObjectURL(p.url);
                  setPhotos(photos.filter((x) => x !== p));
                }}
              >
                빼기
              </button>
            </li>
          ))}
        </ul>
      )}
      {uploaded !== null && photos.length > 0 && (
        <label>
          사진 올리는 중 ({uploaded}/{photos.length})
          <progress max={photos.length} value={uploaded} />
        </label>
      )}
      <div class="form-row">
        <label class="check">
          <input type="checkbox" checked={anonymous} disabled={!!created} onChange={(e) => setAnonymous(e.currentTarget.checked)} />
          익명
        </label>
        <span class="spacer" />
        <button type="button" class="secondary" onClick={() => (created ? onDone(created) : onCancel())}>
          {created ? "사진 없이 글 보기" : "취소"}
        </button>
        <button type="submit" disabled={busy}>
          {busy ? "올리는 중…" : created ? "사진 다시 올리기" : "완료"}
        </button>
      </div>
      <InlineError error={error} />
    </form>
  );
}

export function BoardPosts({ id }: { id: string }) {
  const boardId = BigInt(id);
  const info = useAsync(() => board.getBoard({ id: boardId }), [id]);
  const [query, setQuery] = useState("");
  const [search, setSearch] = useState("");
  const [writing, setWriting] = useState(false);
  const posts = useInfinite(
    (pageToken) =>
      board.listPosts({ boardId, pageSize: 20, pageToken, query: search }).then((r) => ({
        items: r.posts,
        nextPageToken: r.nextPageToken,
      })),
    [id, search],
  );
  useTitle(info.result.state === "ready" ? info.result.value.name : "게시판");

  return (
    <main class="page">
      <Show value={info.result} retry={info.reload}>
        {(b) => (
          <header class="page-head">
            <div>
              <h1>{b.name}</h1>
              <p class="desc">{b.description}</p>
            </div>
            {!writing && (
              <button type="button" onClick={() => setWriting(true)}>
                <Icon name="pencil" size={16} /> 글쓰기
              </button>
            )}
          </header>
        )}
      </Show>
      {writing && (
        <WriteForm
          boardId={boardId}
          onCancel={() => setWriting(false)}
          onDone={(post) => navigate(`/posts/${post.id}`)}
        />
      )}
      <SearchBox id="post-search" label="글 검색" placeholder="글 제목, 내용" value={query} onInput={setQuery} onSearch={setSearch} />
      <section class="card" aria-label="글 목록">
        <ul class="post-list">
          {posts.items.map((p) => (
            <PostItem key={String(p.id)} post={p} />
          ))}
        </ul>
        <ListEnd list={posts} empty={search ? "검색 결과가 없어요." : "아직 글이 없어요. 첫 글을 써 보세요!"} />
      </section>
    </main>
  );
}

export function HotBest({ kind }: { kind: "hot" | "best" }) {
  useTitle(kind === "hot" ? "HOT 게시판" : "BEST 게시판");
  const boards = useAsync(() => board.listBoards({ pageSize: 100 }), []);
  const names = new Map<bigint, string>();
  if (boards.result.state === "ready") boards.result.value.boards.forEach((b) => names.set(b.id, b.name));
  const posts = useInfinite(
    (pageToken) =>
      (kind === "hot"
        ? board.listHotPosts({ pageSize: 20, pageToken })
        : board.listBestPosts({ pageSize: 20, pageToken })
      ).then((r) => ({ items: r.posts, nextPageToken: r.nextPageToken })),
    [kind],
  );
  return (
    <main class="page">
      <header class="page-head">
        <h1>{kind === "hot" ? "HOT 게시판" : "BEST 게시판"}</h1>
      </header>
      <nav class="tabs" aria-label="인기 글">
        <Link href="/hot" class={kind === "hot" ? "tab active" : "tab"}>
          HOT
        </Link>
        <Link href="/best" class={kind === "best" ? "tab active" : "tab"}>
          BEST
        </Link>
      </nav>
      <p class="hint">
        {kind === "hot" ? "공감을 10개 이상 받은 글이에요." : "공감을 100개 이상 받은 글이에요."}
      </p>
      <section class="card" aria-label="글 목록">
        <ul class="post-list">
          {posts.items.map((p) => (
            <PostItem key={String(p.id)} post={p} boardName={names.get(p.boardId)} />
          ))}
        </ul>
        <ListEnd list={posts} empty={kind === "hot" ? "아직 HOT 게시물이 없어요." : "아직 BEST 게시물이 없어요."} />
      </section>
    </main>
  );
}

/** The school-wide search box (home and the search screen). */
export function SearchForm({ value, onInput }: { value: string; onInput: (v: string) => void }) {
  return (
    <SearchBox
      id="school-search"
      label="전체 게시판에서 검색"
      name="전체 게시판 검색"
      placeholder="전체 게시판의 글 검색"
      value={value}
      onInput={onInput}
      onSearch={(q) => {
        if (q) navigate(`/search?q=${encodeURIComponent(q)}`);
      }}
    />
  );
}
