// A post with its comments and one level of replies: 익명N labels, like (공감), scrap, report,
// comment, reply, and a message (쪽지) to the author of the post or of a comment.

import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ago, board, describe, messaging } from "../api";
import type { Comment, Photo, Post } from "../gen/campus/board/v1/board_service_pb";
import { Icon } from "../icons";
import { Link, navigate, useQuery } from "../router";
import { ActionButton, ErrorBox, Field, InlineError, Loading, useAsync, useSubmit, useTitle } from "../ui";

const REPORT_REASONS = [
  "게시판 성격에 부적절함",
  "욕설/비하",
  "음란물/불건전한 만남 및 대화",
  "상업적 광고 및 판매",
  "유출/사칭/사기",
  "낚시/놀람/도배",
];

/** A short message next to an action: what worked or why it did not. */
type Notice = { kind: "ok" | "error"; text: string } | null;

function NoticeLine({ notice }: { notice: Notice }) {
  if (!notice) return null;
  return (
    <p class={notice.kind === "ok" ? "notice" : "inline-error"} role={notice.kind === "ok" ? "status" : "alert"}>
      {notice.text}
    </p>
  );
}

function ReportForm({ onSubmit, onCancel }: { onSubmit: (reason: string) => Promise<void>; onCancel: () => void }) {
  const [reason, setReason] = useState(REPORT_REASONS[0]);
  const reasonRef = useRef<HTMLSelectElement>(null);
  useEffect(() => reasonRef.current?.focus(), []);
  return (
    <form
      class="inline-form"
      aria-label="신고하기"
      onSubmit={async (e) => {
        e.preventDefault();
        await onSubmit(reason);
      }}
    >
      <label>
        신고 사유
        <select ref={reasonRef} value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
          {REPORT_REASONS.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <div class="form-row">
        <span class="spacer" />
        <button type="button" class="secondary" onClick={onCancel}>
          취소
        </button>
        <button type="submit" class="danger">
          신고
        </button>
      </div>
    </form>
  );
}

function MessageForm({
  target,
  onDone,
  onCancel,
}: {
  target: { postId: bigint } | { commentId: bigint };
  onDone: (conversationId: bigint) => void;
  onCancel: () => void;
}) {
  const [content, setContent] = useState("");
  const [anonymous, setAnonymous] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const contentRef = useRef<HTMLTextAreaElement>(null);
  useEffect(() => contentRef.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const t = "postId" in target ? { case: "postId" as const, value: target.postId } : { case: "commentId" as const, value: target.commentId };
      const conversation = await messaging.createConversation({ target: t, anonymous, content: content.trim() });
      onDone(conversation.id);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="inline-form" aria-label="쪽지 보내기" onSubmit={submit}>
      <label>
        쪽지 내용
        <textarea ref={contentRef} required maxLength={1000} rows={3} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
      </label>
      <div class="form-row">
        <label class="check">
          <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.currentTarget.checked)} />
          익명으로 보내기
        </label>
        <span class="spacer" />
        <button type="button" class="secondary" onClick={onCancel}>
          취소
        </button>
        <button type="submit">보내기</button>
      </div>
      <InlineError error={error} />
    </form>
  );
}

type Panel = "report" | "message" | "edit" | null;

function EditForm({ post, onDone, onCancel }: { post: Post; onDone: (p: Post) => void; onCancel: () => void }) {
  const [title, setTitle] = useState(post.title);
  const [content, setContent] = useState(post.content);
  const { submit, busy, error } = useSubmit(async () => {
    onDone(await board.updatePost({ id: post.id, title: title.trim(), content }));
  });
  const titleRef = useRef<HTMLInputElement>(null);
  useEffect(() => titleRef.current?.focus(), []);
  return (
    <form
      class="inline-form form"
      aria-label="글 수정"
      onSubmit={submit}
    >
      <Field ref={titleRef} label="제목" name="title" required maxLength={100} value={title} onValue={setTitle} />
      <label>
        내용
        <textarea name="content" required maxLength={10000} rows={6} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
      </label>
      <div class="form-row">
        <span class="spacer" />
        <button type="button" class="secondary" onClick={onCancel}>
          취소
        </button>
        <button type="submit" disabled={busy}>
          수정 완료
        </button>
      </div>
      <InlineError error={error} />
    </form>
  );
}

/** A photo fetched over gRPC-web (GetPhoto) and shown from a blob URL. */
function usePhotoUrl(photo: Photo): string | null | "error" {
  const [url, setUrl] = useState<string | null | "error">(null);
  useEffect(() => {
    let objectUrl = "";
    let live = true;
    board.getPhoto({ id: photo.id }).then(
      (body) => {
        objectUrl = URL.createObjectURL(new Blob([body.data as BlobPart], { type: body.contentType || photo.contentType }));
        if (live) setUrl(objectUrl);
      },
      () => live && setUrl("error"),
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [photo.id]);
  return url;
}

function PhotoThumb({ photo, index, onOpen }: { photo: Photo; index: number; onOpen: () => void }) {
  const url = usePhotoUrl(photo);
  if (url === "error") return <p class="inline-error">사진을 불러올 수 없어요.</p>;
  if (!url) return <span class="spinner" role="status" aria-label="사진 불러오는 중" />;
  return (
    <button type="button" onClick={onOpen} aria-label={`사진 ${index + 1} 크게 보기`}>
      <img src={url} alt={`첨부 사진 ${index + 1}`} />
    </button>
  );
}

function PhotoViewer({ photos, start, onClose }: { photos: Photo[]; start: number; onClose: () => void }) {
  const [at, setAt] = useState(start);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const url = usePhotoUrl(photos[at]);
  const step = (d: number) => setAt((at + d + photos.length) % photos.length);
  return (
    <dialog
      ref={dialog}
      class="viewer"
      aria-label="사진 보기"
      onClose={onClose}
      onKeyDown={(e) => {
        if (e.key === "ArrowRight") step(1);
        if (e.key === "ArrowLeft") step(-1);
      }}
    >
      {url && url !== "error" ? <img src={url} alt={`사진 ${at + 1} / ${photos.length}`} /> : <Loading label="사진 불러오는 중…" />}
      <div class="form-row">
        <button type="button" class="secondary" onClick={() => step(-1)} disabled={photos.length < 2}>
          이전 사진
        </button>
        <span aria-live="polite">
          {at + 1} / {photos.length}
        </span>
        <button type="button" class="secondary" onClick={() => step(1)} disabled={photos.length < 2}>
          다음 사진
        </button>
        <button type="button" onClick={() => dialog.current?.close()}>
          닫기
        </button>
      </div>
    </dialog>
  );
}

function PostBody({ post, setPost }: { post: Post; setPost: (p: Post) => void }) {
  const [panel, setPanel] = useState<Panel>(null);
  const [viewing, setViewing] = useState<number | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const act = async (action: () => Promise<Post | void>, ok?: string) => {
    setNotice(null);
    try {
      const updated = await action();
      if (updated) setPost(updated);
      if (ok) setNotice({ kind: "ok", text: ok });
    } catch (e) {
      setNotice({ kind: "error", text: describe(e) });
    }
  };
  return (
    <article class="card post" aria-labelledby="post-title">
      <header class="post-head">
        <span class={post.author?.isAnonymous ? "avatar anon" : "avatar"} aria-hidden="true" />
        <div>
          <p class="author">{post.author?.displayName}</p>
          <p class="meta">
            <time dateTime={post.createdAt ? new Date(Number(post.createdAt.seconds) * 1000).toISOString() : undefined}>
              {ago(post.createdAt)}
            </time>
          </p>
        </div>
      </header>
      <h1 id="post-title" class="post-title-full">
        {post.title}
      </h1>
      <p class="post-content">{post.content}</p>
      {post.photos.length > 0 && (
        <div class="photos">
          {post.photos.map((p, i) => (
            <PhotoThumb key={String(p.id)} photo={p} index={i} onOpen={() => setViewing(i)} />
          ))}
        </div>
      )}
      <p class="counts">
        <span class="count-like">공감 {post.likeCount}</span>
        <span class="count-comment">댓글 {post.commentCount}</span>
        <span class="count-scrap">스크랩 {post.scrapCount}</span>
      </p>
      <div class="actions" role="group" aria-label="글 메뉴">
        <ActionButton
          class="secondary"
          pressed={post.likedByMe}
          disabled={post.isMine}
          onClick={() => act(() => board.likePost({ id: post.id }), "이 글에 공감했어요.")}
        >
          ♥ 공감
        </ActionButton>
        <ActionButton
          class="secondary"
          pressed={post.scrappedByMe}
          disabled={post.isMine}
          onClick={() =>
            act(
              () => (post.scrappedByMe ? board.unscrapPost({ id: post.id }) : board.scrapPost({ id: post.id })),
              post.scrappedByMe ? "스크랩을 취소했어요." : "스크랩했어요.",
            )
          }
        >
          ★ 스크랩
        </ActionButton>
        {!post.isMine && (
          <>
            <button type="button" class="secondary" aria-expanded={panel === "message"} aria-label="글쓴이에게 쪽지 보내기" onClick={() => setPanel(panel === "message" ? null : "message")}>
              <Icon name="mail" size={16} /> 쪽지
            </button>
            <button type="button" class="secondary" aria-expanded={panel === "report"} onClick={() => setPanel(panel === "report" ? null : "report")}>
              신고
            </button>
          </>
        )}
        {post.isMine && (
          <button type="button" class="secondary" aria-expanded={panel === "edit"} onClick={() => setPanel(panel === "edit" ? null : "edit")}>
            수정
          </button>
        )}
        {post.isMine && (
          <ActionButton
            class="secondary danger"
            onClick={async () => {
              if (!confirm("이 글을 삭제할까요?")) return;
              await act(async () => {
                await board.deletePost({ id: post.id });
                navigate(`/boards/${post.boardId}`, true);
              });
            }}
          >
            삭제
          </ActionButton>
        )}
      </div>
      {viewing !== null && <PhotoViewer photos={post.photos} start={viewing} onClose={() => setViewing(null)} />}
      {panel === "edit" && (
        <EditForm
          post={post}
          onCancel={() => setPanel(null)}
          onDone={(updated) => {
            setPost(updated);
            setPanel(null);
            setNotice({ kind: "ok", text: "글을 수정했어요." });
          }}
        />
      )}
      {panel === "report" && (
        <ReportForm
          onCancel={() => setPanel(null)}
          onSubmit={async (reason) => {
            await act(() => board.reportPost({ id: post.id, reason }).then(() => undefined), "신고했어요.");
            setPanel(null);
          }}
        />
      )}
      {panel === "message" && (
        <MessageForm target={{ postId: post.id }} onCancel={() => setPanel(null)} onDone={(id) => navigate(`/messages/${id}`)} />
      )}
      <NoticeLine notice={notice} />
    </article>
  );
}

function CommentItem({
  comment,
  reply,
  focused = false,
  onReply,
  onChanged,
}: {
  comment: Comment;
  reply: boolean;
  /** The comment the route points at (`?comment=<id>`, from a notification): highlighted. */
  focused?: boolean;
  onReply?: () => void;
  onChanged: () => void;
}) {
  const [panel, setPanel] = useState<Panel>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [current, setCurrent] = useState(comment);
  const author = current.author;
  const act = async (action: () => Promise<unknown>, ok: string) => {
    setNotice(null);
    try {
      await action();
      setNotice({ kind: "ok", text: ok });
    } catch (e) {
      setNotice({ kind: "error", text: describe(e) });
    }
  };
  // Every comment is an anchor (#comment-<id>); the one the route points at takes the focus.
  const anchor = { id: `comment-${current.id}`, tabIndex: focused ? -1 : undefined };
  const classes = `comment${reply ? " reply" : ""}${focused ? " focused" : ""}`;
  if (current.deleted) {
    return (
      <li class={`${classes} deleted`} {...anchor}>
        <p class="comment-content">삭제된 댓글입니다.</p>
      </li>
    );
  }
  return (
    <li class={classes} {...anchor}>
      <div class="comment-head">
        <span class={author?.isAnonymous ? "avatar small anon" : "avatar small"} aria-hidden="true" />
        <span class={author?.isPostAuthor ? "author post-author" : "author"}>{author?.displayName}</span>
        <span class="meta">{ago(current.createdAt)}</span>
        {current.likeCount > 0 && <span class="meta like">♥ {current.likeCount}</span>}
      </div>
      <p class="comment-content">{current.content}</p>
      <div class="comment-actions" role="group" aria-label={`${author?.displayName}의 댓글 메뉴`}>
        {!reply && onReply && (
          <button type="button" class="link" onClick={onReply}>
            답글
          </button>
        )}
        {!author?.isMe && (
          <>
            <ActionButton
              class="link"
              pressed={current.likedByMe}
              onClick={() =>
                act(async () => setCurrent(await board.likeComment({ id: current.id })), "댓글에 공감했어요.")
              }
            >
              공감
            </ActionButton>
            <button type="button" class="link" aria-expanded={panel === "message"} onClick={() => setPanel(panel === "message" ? null : "message")}>
              쪽지
            </button>
            <button type="button" class="link" aria-expanded={panel === "report"} onClick={() => setPanel(panel === "report" ? null : "report")}>
              신고
            </button>
          </>
        )}
        {author?.isMe && (
          <ActionButton
            class="link danger"
            onClick={async () => {
              if (!confirm("이 댓글을 삭제할까요?")) return;
              await act(() => board.deleteComment({ id: current.id }), "삭제했어요.");
              onChanged();
            }}
          >
            삭제
          </ActionButton>
        )}
      </div>
      {panel === "report" && (
        <ReportForm
          onCancel={() => setPanel(null)}
          onSubmit={async (reason) => {
            await act(() => board.reportComment({ id: current.id, reason }), "신고했어요.");
            setPanel(null);
          }}
        />
      )}
      {panel === "message" && (
        <MessageForm target={{ commentId: current.id }} onCancel={() => setPanel(null)} onDone={(id) => navigate(`/messages/${id}`)} />
      )}
      <NoticeLine notice={notice} />
    </li>
  );
}

async function allComments(postId: bigint): Promise<Comment[]> {
  const comments: Comment[] = [];
  let pageToken = "";
  // A post's comments are few (Everytime shows them all); fetch every page.
  for (let i = 0; i < 20; i++) {
    const page = await board.listComments({ postId, pageSize: 100, pageToken });
    comments.push(...page.comments);
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  return comments;
}

export function PostView({ id }: { id: string }) {
  const postId = BigInt(id);
  const post = useAsync(() => board.getPost({ id: postId }), [id]);
  const comments = useAsync(() => allComments(postId), [id]);
  const [replyTo, setReplyTo] = useState<Comment | null>(null);
  const [content, setContent] = useState("");
  const [anonymous, setAnonymous] = useState(true);
  const { submit, busy, error } = useSubmit(async () => {
    await board.createComment({ postId, content: content.trim(), anonymous, parentId: replyTo?.id });
    setContent("");
    setReplyTo(null);
    comments.reload();
    post.reload();
  });
  useTitle(post.result.state === "ready" ? post.result.value.title : "글");

  // Opened from a notification: scroll to the comment and move the focus there, once both the
  // post and the comments are on screen (a later reload of the comments does not scroll again).
  const focus = useQuery().get("comment") ?? "";
  const shown = post.result.state === "ready" && comments.result.state === "ready";
  useEffect(() => {
    if (!focus || !shown) return;
    const node = document.getElementById(`comment-${focus}`);
    node?.scrollIntoView({ block: "center" });
    node?.focus({ preventScroll: true });
  }, [focus, shown]);

  if (post.result.state === "loading") return <main class="page"><Loading /></main>;
  if (post.result.state === "error") {
    return (
      <main class="page">
        <ErrorBox error={post.result.error} retry={post.reload} />
        <p>
          <Link href="/">게시판 목록으로</Link>
        </p>
      </main>
    );
  }
  const thePost = post.result.value;
  return (
    <main class="page">
      <p class="back">
        <Link href={`/boards/${thePost.boardId}`}>← 게시판으로</Link>
      </p>
      <PostBody post={thePost} setPost={post.set} />
      <section class="card comments" aria-labelledby="comments-title">
        <h2 id="comments-title">댓글 {thePost.commentCount}</h2>
        {comments.result.state === "loading" && <Loading />}
        {comments.result.state === "error" && <ErrorBox error={comments.result.error} retry={comments.reload} />}
        {comments.result.state === "ready" &&
          (comments.result.value.length === 0 ? (
            <p class="state empty">첫 댓글을 남겨 보세요.</p>
          ) : (
            <ul class="comment-list">
              {comments.result.value
                .filter((c) => c.parentId === 0n)
                .map((top) => (
                  <Fragment key={String(top.id)}>
                    <CommentItem
                      comment={top}
                      reply={false}
                      focused={String(top.id) === focus}
                      onReply={() => {
                        setReplyTo(top);
                        document.getElementById("comment-input")?.focus();
                      }}
                      onChanged={comments.reload}
                    />
                    {(comments.result.state === "ready" ? comments.result.value : [])
                      .filter((c) => c.parentId === top.id)
                      .map((r) => (
                        <CommentItem
                          key={String(r.id)}
                          comment={r}
                          reply={true}
                          focused={String(r.id) === focus}
                          onChanged={comments.reload}
                        />
                      ))}
                  </Fragment>
                ))}
            </ul>
          ))}
        <form class="comment-form" onSubmit={submit} aria-label="댓글 쓰기">
          {replyTo && (
            <p class="replying" role="status">
              {replyTo.author?.displayName}에게 답글 쓰는 중
              <button type="button" class="link" onClick={() => setReplyTo(null)}>
                취소
              </button>
            </p>
          )}
          <div class="form-row">
            <label class="check">
              <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.currentTarget.checked)} />
              익명
            </label>
            <label class="visually-hidden" for="comment-input">
              {replyTo ? "답글" : "댓글"}
            </label>
            <input
              id="comment-input"
              name="comment"
              required
              maxLength={300}
              placeholder={replyTo ? "답글을 입력하세요." : "댓글을 입력하세요."}
              value={content}
              onInput={(e) => setContent(e.currentTarget.value)}
            />
            <button type="submit" disabled={busy}>
              등록
            </button>
          </div>
          <InlineError error={error} />
        </form>
      </section>
    </main>
  );
}
