// The conversation inbox and a conversation, both kept current by one StreamMessages call per
// signed-in tab. The stream is reopened when it ends (the gateway bounds every call's
// duration) or fails; each (re)open tells the screens to reload, so a message sent while the
// stream was down still shows up.

import { useEffect, useRef, useState } from "preact/hooks";
import { ago, followStream, messaging } from "../api";
import type { Conversation, Message } from "../gen/campus/messaging/v1/messaging_service_pb";
import { Link } from "../router";
import { ActionButton, Empty, ErrorBox, InlineError, Loading, Show, channel, useAsync, useTitle } from "../ui";

const live = channel<{ kind: "message"; message: Message } | { kind: "resync" }>();
let liveAbort: AbortController | null = null;

/** Opens the message stream for the signed-in user until `stopLive`. */
export function startLive() {
  if (liveAbort) return;
  liveAbort = new AbortController();
  followStream(
    (options) => messaging.streamMessages({}, options),
    (item) => {
      if (item.message) live.emit({ kind: "message", message: item.message });
    },
    () => live.emit({ kind: "resync" }),
    liveAbort.signal,
  );
}

export function stopLive() {
  liveAbort?.abort();
  liveAbort = null;
}

export function Inbox() {
  useTitle("쪽지함");
  const list = useAsync(() => messaging.listConversations({ pageSize: 50 }), []);
  live.useListener(() => list.reload());
  return (
    <main class="page">
      <header class="page-head">
        <h1>쪽지함</h1>
      </header>
      <section class="card" aria-label="대화 목록">
        <Show value={list.result} retry={list.reload}>
          {({ conversations }) =>
            conversations.length === 0 ? (
              <Empty>아직 주고받은 쪽지가 없어요. 글이나 댓글에서 쪽지를 보내 보세요.</Empty>
            ) : (
              <ul class="conversation-list">
                {conversations.map((c) => (
                  <ConversationItem key={String(c.id)} conversation={c} />
                ))}
              </ul>
            )
          }
        </Show>
      </section>
    </main>
  );
}

function ConversationItem({ conversation: c }: { conversation: Conversation }) {
  return (
    <li>
      <Link href={`/messages/${c.id}`} class="conversation-link">
        <span class="conversation-top">
          <span class="counterpart">{c.counterpart?.displayName}</span>
          <span class="meta">{ago(c.updatedAt)}</span>
        </span>
        <span class="conversation-bottom">
          <span class="last">{c.lastMessage?.content}</span>
          {c.unreadCount > 0 && (
            <span class="unread" aria-label={`안 읽은 쪽지 ${c.unreadCount}개`}>
              {c.unreadCount}
            </span>
          )}
        </span>
        {c.blocked && <span class="meta">차단됨</span>}
      </Link>
    </li>
  );
}

async function loadConversation(id: bigint) {
  // Messages come newest first; the screen shows them oldest first.
  const [page, conversation] = await Promise.all([
    messaging.listMessages({ conversationId: id, pageSize: 100 }),
    messaging.markConversationRead({ id }),
  ]);
  return { conversation, messages: [...page.messages].reverse() };
}

export function ConversationView({ id }: { id: string }) {
  const conversationId = BigInt(id);
  const data = useAsync(() => loadConversation(conversationId), [id]);
  const [content, setContent] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const end = useRef<HTMLDivElement>(null);
  const title =
    data.result.state === "ready" ? `${data.result.value.conversation.counterpart?.displayName ?? ""}와(과)의 쪽지` : "쪽지";
  useTitle(title);

  const append = (message: Message) => {
    if (data.result.state !== "ready") return;
    const { conversation, messages } = data.result.value;
    if (messages.some((m) => m.id === message.id)) return;
    data.set({ conversation, messages: [...messages, message] });
  };

  live.useListener((event) => {
    if (event.kind === "resync") data.reload();
    else if (event.message.conversationId === conversationId) {
      append(event.message);
      if (!event.message.isMine) messaging.markConversationRead({ id: conversationId }).catch(() => undefined);
    }
  });

  const count = data.result.state === "ready" ? data.result.value.messages.length : 0;
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [count]);

  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      append(await messaging.sendMessage({ conversationId, content: content.trim() }));
      setContent("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (data.result.state === "loading") return <main class="page"><Loading /></main>;
  if (data.result.state === "error") return <main class="page"><ErrorBox error={data.result.error} retry={data.reload} /></main>;
  const { conversation, messages } = data.result.value;
  return (
    <main class="page conversation">
      <p class="back">
        <Link href="/messages">← 쪽지함</Link>
      </p>
      <header class="page-head">
        <h1>{conversation.counterpart?.displayName}</h1>
        {conversation.origin?.postId !== undefined && (
          <Link href={`/posts/${conversation.origin.postId}`} class="meta">
            글에서 시작한 쪽지
          </Link>
        )}
        {!conversation.blocked && (
          <ActionButton
            class="secondary danger"
            onClick={async () => {
              if (!confirm("이 상대를 차단할까요? 서로 쪽지를 보낼 수 없게 돼요.")) return;
              try {
                await messaging.blockConversation({ id: conversationId });
                data.reload();
              } catch (err) {
                setError(err);
              }
            }}
          >
            차단
          </ActionButton>
        )}
      </header>
      <section class="card messages" aria-label="쪽지" aria-live="polite">
        {messages.length === 0 ? (
          <Empty>아직 쪽지가 없어요.</Empty>
        ) : (
          <ol class="message-list">
            {messages.map((m) => (
              <li key={String(m.id)} class={m.isMine ? "message mine" : "message theirs"}>
                <span class="who visually-hidden">{m.isMine ? "보낸 쪽지" : "받은 쪽지"}</span>
                <p class="bubble">{m.content}</p>
                <span class="meta">{ago(m.createdAt)}</span>
              </li>
            ))}
          </ol>
        )}
        <div ref={end} />
      </section>
      {conversation.blocked ? (
        <p class="state empty">차단된 대화예요.</p>
      ) : (
        <form class="send-form" onSubmit={send} aria-label="쪽지 보내기">
          <label class="visually-hidden" for="message-input">
            쪽지 내용
          </label>
          <input
            id="message-input"
            required
            maxLength={1000}
            placeholder="쪽지를 입력하세요."
            value={content}
            onInput={(e) => setContent(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            보내기
          </button>
        </form>
      )}
      <InlineError error={error} />
    </main>
  );
}
