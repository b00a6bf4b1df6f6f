import { render, type ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { logout, session } from "./api";
import { Bell, startBell, stopBell } from "./bell";
import type { User } from "./gen/campus/account/v1/account_service_pb";
import { Icon } from "./icons";
import { Link, match, navigate, usePath } from "./router";
import { Login, ResetPassword, SignUp } from "./screens/auth";
import { BoardPosts, HotBest, Home } from "./screens/boards";
// The inbox is always live (StreamMessages), so the messages screens are in the main chunk.
import { ConversationView, Inbox, startLive, stopLive } from "./screens/messages";
import { ErrorBox, Loading } from "./ui";
import "./styles.css";

const PUBLIC = ["/login", "/signup", "/reset-password"];

/**
 * A screen loaded on first use (its own chunk), so the first paint needs only the shell, the
 * sign-in screens and the boards. A failed load offers a retry.
 */
function lazy<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<void> | null = null;
  return function Lazy(props: P) {
    const [, setTick] = useState(0);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (loaded) return;
      pending ??= load().then((c) => {
        loaded = c;
      });
      pending.then(
        () => setTick((t) => t + 1),
        (e) => {
          pending = null;
          setError(e);
        },
      );
    }, [error]);
    if (loaded) {
      const Screen = loaded;
      return <Screen {...props} />;
    }
    if (error) return <main class="page"><ErrorBox error={error} retry={() => setError(null)} /></main>;
    return <main class="page"><Loading /></main>;
  };
}

const PostView = lazy(() => import("./screens/post").then((m) => m.PostView));
const TimetableScreen = lazy(() => import("./screens/timetable").then((m) => m.TimetableScreen));
const FriendTimetable = lazy(() => import("./screens/timetable").then((m) => m.FriendTimetable));
const LectureReviews = lazy(() => import("./screens/reviews").then((m) => m.LectureReviews));
const GpaCalculator = lazy(() => import("./screens/gpa").then((m) => m.GpaCalculator));
const MyLists = lazy(() => import("./screens/me").then((m) => m.MyLists));
const BoardDirectory = lazy(() => import("./screens/me").then((m) => m.BoardDirectory));
const SchoolSearch = lazy(() => import("./screens/me").then((m) => m.SchoolSearch));
const NotificationsScreen = lazy(() => import("./screens/notifications").then((m) => m.NotificationsScreen));
const Settings = lazy(() => import("./screens/settings").then((m) => m.Settings));
const DeleteAccount = lazy(() => import("./screens/settings").then((m) => m.DeleteAccount));

function Screen({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === "/") return <Home />;
  if ((p = match("/boards/:id", path))) return <BoardPosts key={p.id} id={p.id} />;
  if ((p = match("/posts/:id", path))) return <PostView key={p.id} id={p.id} />;
  if (path === "/hot") return <HotBest kind="hot" />;
  if (path === "/best") return <HotBest kind="best" />;
  if (path === "/messages") return <Inbox />;
  if (path === "/notifications") return <NotificationsScreen />;
  if ((p = match("/messages/:id", path))) return <ConversationView key={p.id} id={p.id} />;
  if (path === "/timetable") return <TimetableScreen />;
  if ((p = match("/friends/:id", path))) return <FriendTimetable key={p.id} userId={p.id} />;
  if ((p = match("/lectures/:id", path))) return <LectureReviews key={p.id} id={p.id} />;
  if (path === "/gpa") return <GpaCalculator />;
  if (path === "/boards") return <BoardDirectory />;
  if (path === "/search") return <SchoolSearch />;
  if (path === "/me/settings") return <Settings />;
  if (path === "/me/delete") return <DeleteAccount />;
  if ((p = match("/me/:tab", path))) return <MyLists key={p.tab} tab={p.tab} />;
  if (path === "/me") return <MyLists key="posts" tab="posts" />;
  return (
    <main class="page">
      <h1>페이지를 찾을 수 없어요</h1>
      <p>
        <Link href="/">홈으로</Link>
      </p>
    </main>
  );
}

const NAV = [
  { href: "/", label: "홈", icon: "home" },
  { href: "/hot", label: "HOT", icon: "hot" },
  { href: "/messages", label: "쪽지", icon: "mail" },
  { href: "/timetable", label: "시간표", icon: "calendar" },
  { href: "/gpa", label: "학점", icon: "cap" },
  { href: "/me", label: "내 정보", icon: "user" },
] as const;

function section(path: string) {
  if (path.startsWith("/messages")) return "/messages";
  if (path === "/notifications") return "";
  if (path.startsWith("/timetable") || path.startsWith("/friends") || path.startsWith("/lectures")) return "/timetable";
  if (path === "/hot" || path === "/best") return "/hot";
  if (path === "/gpa") return "/gpa";
  if (path.startsWith("/me")) return "/me";
  return "/";
}

function Shell({ user, path }: { user: User; path: string }) {
  const current = section(path);
  return (
    <>
      <a href="#content" class="skip">
        본문으로 건너뛰기
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          캠퍼스
        </Link>
        <nav class="nav" aria-label="주 메뉴">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} class={current === n.href ? "nav-item active" : "nav-item"}>
              <span class="nav-icon">
                <Icon name={n.icon} />
              </span>
              <span class="nav-label">{n.label}</span>
            </Link>
          ))}
        </nav>
        <div class="me">
          <Bell />
          <Link href="/me/settings" class="nickname" data-testid="me" aria-label={`${user.nickname} 설정`}>
            {user.nickname}
          </Link>
          <button
            type="button"
            class="link"
            onClick={async () => {
              stopLive();
              stopBell();
              await logout().catch(() => undefined);
              navigate("/login", true);
            }}
          >
            로그아웃
          </button>
        </div>
      </header>
      <div id="content" tabIndex={-1}>
        <Screen path={path} />
      </div>
    </>
  );
}

function App() {
  const path = usePath();
  const [booted, setBooted] = useState<"booting" | "ready" | { error: unknown }>("booting");
  const [user, setUser] = useState<User | null>(null);

  useEffect(() => session.subscribe(setUser), []);
  useEffect(() => {
    // A reload or a new tab: the refresh cookie, if any, restores the session silently.
    session.refresh().then(
      () => setBooted("ready"),
      (error) => setBooted({ error }),
    );
  }, []);
  useEffect(() => {
    if (user) {
      startLive();
      startBell();
    } else {
      stopLive();
      stopBell();
    }
  }, [user]);

  const isPublic = PUBLIC.includes(path);
  useEffect(() => {
    if (booted !== "ready") return;
    if (!user && !isPublic) navigate("/login", true);
    if (user && isPublic) navigate("/", true);
  }, [booted, user, isPublic]);

  if (booted === "booting") return <Loading label="캠퍼스에 연결하는 중…" />;
  if (booted !== "ready") {
    return (
      <main class="page">
        <ErrorBox error={booted.error} retry={() => location.reload()} />
      </main>
    );
  }
  if (!user) {
    if (path === "/signup") return <SignUp />;
    if (path === "/reset-password") return <ResetPassword />;
    return <Login />;
  }
  return <Shell user={user} path={path} />;
}

render(<App />, document.getElementById("app")!);
