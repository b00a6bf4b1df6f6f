// Notifications (알림): the live count behind the header's bell and the notifications screen.
// One StreamNotifications call per signed-in tab brings each new notification; the stream is
// reopened with back-off when it ends (the gateway bounds every call's duration) or fails, and
// each (re)open asks ListNotifications for the count again, so nothing that arrived while the
// stream was down is missed.

import { createClient } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { ago, followStream, transport } from "../api";
import { announceArrival, setUnread, unreadCount, useUnread } from "../bell";
import {
  NotificationKind,
  NotificationService,
  type Notification,
} from "../gen/campus/messaging/v1/notification_service_pb";
import { Link } from "../router";
import { ActionButton, InlineError, ListEnd, channel, useInfinite, useTitle } from "../ui";

const notifications = createClient(NotificationService, transport);

const live = channel<{ kind: "new"; notification: Notification } | { kind: "resync" }>();

/**
 * Opens the notification stream for the signed-in user and keeps the unread count; the
 * returned function stops it.
 */
export function watchNotifications(): () => void {
  const abort = new AbortController();
  // Notifications that arrived while a count was being fetched: the count may or may not
  // include them, and their ids tell which (ids grow with time, the list is newest first).
  let arrived = null as Notification[] | null;
  const recount = (resync: boolean) => {
    const mine: Notification[] = [];
    arrived = mine;
    notifications.listNotifications({ pageSize: 1 }, { signal: abort.signal }).then(
      (r) => {
        if (arrived !== mine) return;
        arrived = null;
        const newest = r.notifications[0]?.id ?? 0n;
        setUnread(r.unreadCount + mine.filter((n) => !n.read && n.id > newest).length);
        if (resync) live.emit({ kind: "resync" });
      },
      () => {
        // The next (re)open counts again; until then what arrived counts on top.
        if (arrived !== mine) return;
        arrived = null;
        setUnread(unreadCount() + mine.filter((n) => !n.read).length);
      },
    );
  };
  recount(false);
  followStream(
    (options) => notifications.streamNotifications({}, options),
    (item) => {
      const n = item.notification;
      if (!n) return;
      if (arrived) arrived.push(n);
      else if (!n.read) announceArrival();
      live.emit({ kind: "new", notification: n });
    },
    // What came while the stream was down is in the count and the list only.
    () => recount(true),
    abort.signal,
  );
  return () => abort.abort();
}

const KINDS: Record<NotificationKind, string> = {
  [NotificationKind.UNSPECIFIED]: "새 알림",
  [NotificationKind.COMMENT]: "내 글에 새 댓글",
  [NotificationKind.REPLY]: "내 댓글에 새 답글",
  [NotificationKind.HOT]: "HOT 게시물이 되었어요",
  [NotificationKind.BEST]: "BEST 게시물이 되었어요",
};

/** The post, scrolled to the new comment when there is one. */
function target(n: Notification): string {
  return n.commentId === undefined ? `/posts/${n.postId}` : `/posts/${n.postId}?comment=${n.commentId}`;
}

function NotificationItem({ notification: n, onOpen }: { notification: Notification; onOpen: () => void }) {
  return (
    <li class={n.read ? "notification" : "notification unread-item"}>
      <Link href={target(n)} class="notification-link" onClick={onOpen}>
        <span class="notification-top">
          <span class="notification-kind">
            {!n.read && <span class="visually-hidden">안 읽음, </span>}
            {KINDS[n.kind] ?? KINDS[NotificationKind.UNSPECIFIED]}
          </span>
          <time class="meta" dateTime={n.createdAt ? new Date(Number(n.createdAt.seconds) * 1000).toISOString() : undefined}>
            {ago(n.createdAt)}
          </time>
        </span>
        <span class="notification-preview">{n.preview}</span>
        <span class="meta board-name">{n.boardName}</span>
      </Link>
    </li>
  );
}

export function NotificationsScreen() {
  useTitle("알림");
  const unread = useUnread();
  const [error, setError] = useState<unknown>(null);
  const list = useInfinite(
    (pageToken) =>
      notifications.listNotifications({ pageSize: 20, pageToken }).then((r) => {
        if (!pageToken) setUnread(r.unreadCount);
        return { items: r.notifications, nextPageToken: r.nextPageToken };
      }),
    [],
  );
  const prepend = (fresh: Notification[]) =>
    list.setItems((items) => {
      const have = new Set(items.map((i) => i.id));
      const added = fresh.filter((n) => !have.has(n.id));
      return added.length > 0 ? [...added, ...items] : items;
    });
  live.useListener((event) => {
    if (event.kind === "new") prepend([event.notification]);
    // The stream was reopened (the gateway ends every call after a while): what arrived in
    // between goes on top, keeping the pages already shown; a longer gap starts over.
    else
      notifications.listNotifications({ pageSize: 20 }).then((r) => {
        const have = new Set(list.items.map((i) => i.id));
        if (r.nextPageToken && !r.notifications.some((n) => have.has(n.id))) list.reload();
        else prepend(r.notifications);
      }, () => undefined);
  });

  const markRead = (ids: bigint[]) =>
    list.setItems((items) => items.map((i) => (ids.length === 0 || ids.includes(i.id) ? { ...i, read: true } : i)));

  const open = (n: Notification) => {
    if (n.read) return;
    markRead([n.id]);
    setUnread(unreadCount() - 1);
    // The post opens at once; the count follows the server's answer.
    notifications.markNotificationsRead({ ids: [n.id] }).then(
      (r) => setUnread(r.unreadCount),
      () => undefined,
    );
  };

  return (
    <main class="page">
      <header class="page-head">
        <h1>알림</h1>
        <ActionButton
          class="secondary small"
          disabled={unread === 0 && !list.items.some((n) => !n.read)}
          onClick={async () => {
            setError(null);
            try {
              const r = await notifications.markNotificationsRead({ all: true });
              markRead([]);
              setUnread(r.unreadCount);
            } catch (e) {
              setError(e);
            }
          }}
        >
          모두 읽음
        </ActionButton>
      </header>
      <InlineError error={error} />
      <section class="card" aria-label="알림 목록">
        <ul class="notification-list">
          {list.items.map((n) => (
            <NotificationItem key={String(n.id)} notification={n} onOpen={() => open(n)} />
          ))}
        </ul>
        <ListEnd list={list} empty="아직 알림이 없어요. 내 글에 댓글이 달리면 여기에 알려 드려요." />
      </section>
    </main>
  );
}
