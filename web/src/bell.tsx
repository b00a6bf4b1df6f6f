// The bell in the header and the unread count behind it. Only this small part is in the bundle
// loaded at start: the notification client, its stream and the notifications screen are one
// chunk (screens/notifications), fetched right after sign-in, which keeps the count live.

import { useEffect, useState } from "preact/hooks";
import { Icon } from "./icons";
import { Link } from "./router";

let unread = 0;
/** What a screen reader hears when a notification arrives over the stream. */
let news = "";
const countListeners = new Set<(n: number) => void>();

/** The signed-in user's unread notifications as the server last told, plus what arrived since. */
export function unreadCount(): number {
  return unread;
}

function publish(n: number, message: string) {
  unread = Math.max(0, n);
  news = message;
  countListeners.forEach((l) => l(unread));
}

export function setUnread(n: number) {
  publish(n, "");
}

/** One unread notification arrived over the stream: the count goes up, and it is announced. */
export function announceArrival() {
  publish(unread + 1, `새 알림이 왔어요. 안 읽은 알림 ${unread + 1}개`);
}

export function useUnread(): number {
  const [n, setN] = useState(unread);
  useEffect(() => {
    setN(unread);
    countListeners.add(setN);
    return () => {
      countListeners.delete(setN);
    };
  }, []);
  return n;
}

let running = false;
let stop: (() => void) | null = null;
let retry: ReturnType<typeof setTimeout> | undefined;

/** Keeps the count live for the signed-in user until `stopBell`. */
export function startBell() {
  if (running) return;
  running = true;
  import("./screens/notifications").then(
    (m) => {
      if (running && !stop) stop = m.watchNotifications();
    },
    () => {
      // The chunk did not load (offline, a new deployment): try again a little later.
      running = false;
      retry = setTimeout(startBell, 15_000);
    },
  );
}

export function stopBell() {
  clearTimeout(retry);
  running = false;
  stop?.();
  stop = null;
  setUnread(0);
}

export function Bell() {
  const n = useUnread();
  const shown = n > 99 ? "99+" : String(n);
  // The name ends in the badge's text as a word of its own, so voice control users can say
  // what they see.
  return (
    <>
      <Link href="/notifications" class="bell" aria-label={n > 0 ? `알림, 안 읽음 ${shown}` : "알림, 안 읽은 알림 없음"}>
        <Icon name="bell" size={22} />
        {n > 0 && (
          <span class="bell-count" aria-hidden="true">
            {shown}
          </span>
        )}
      </Link>
      <span class="visually-hidden" role="status">
        {news}
      </span>
    </>
  );
}
