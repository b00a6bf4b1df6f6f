// Every call to campus goes through the gateway over gRPC-web (Connect's transport, binary
// Protobuf). This module owns the session: the access token lives in memory only, and the
// refresh token in an HttpOnly cookie (`__Secure-refresh_token`, Path=/v1/auth) that this code
// never sees. A refresh runs before the access token expires and once more when a call comes
// back UNAUTHENTICATED.

import { Code, ConnectError, createClient, type CallOptions, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AccountService, type User } from "./gen/campus/account/v1/account_service_pb";
import { AuthService, type Session } from "./gen/campus/auth/v1/auth_service_pb";
import { BoardService } from "./gen/campus/board/v1/board_service_pb";
import { MessagingService } from "./gen/campus/messaging/v1/messaging_service_pb";
import { TimetableService } from "./gen/campus/timetable/v1/timetable_service_pb";

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

type Listener = (user: User | null) => void;

class SessionStore {
  private token = "";
  private expiresAt = 0;
  private refreshing: Promise<string> | null = null;
  private listeners = new Set<Listener>();
  user: User | null = null;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(session: Session) {
    this.token = session.accessToken;
    this.expiresAt = Date.now() + session.expiresIn * 1000;
    this.user = session.user ?? null;
    this.listeners.forEach((l) => l(this.user));
  }

  /** The signed-in user changed (a new nickname): everyone showing it hears. */
  setUser(user: User) {
    this.user = user;
    this.listeners.forEach((l) => l(this.user));
  }

  clear() {
    this.token = "";
    this.expiresAt = 0;
    this.user = null;
    this.listeners.forEach((l) => l(null));
  }

  /** The access token, refreshed first when it is about to expire; "" when signed out. */
  async accessToken(): Promise<string> {
    if (!this.token) return "";
    if (Date.now() < this.expiresAt - REFRESH_MARGIN_MS) return this.token;
    return this.refresh();
  }

  /**
   * Rotates the refresh cookie for a new access token; "" when the session is gone. One
   * refresh at a time in this tab, and across tabs (Web Locks) so two tabs never present the
   * same refresh token: the second would trip the server's reuse detection and end the session.
   */
  refresh(): Promise<string> {
    if (!this.refreshing) {
      const run = async () => {
        try {
          this.set(await auth.refresh({}));
          return this.token;
        } catch (e) {
          const code = ConnectError.from(e).code;
          if (code === Code.Unauthenticated || code === Code.PermissionDenied) this.clear();
          else throw e;
          return "";
        }
      };
      const locked = (async () =>
        navigator.locks ? await navigator.locks.request("campus-refresh", run) : await run())();
      this.refreshing = locked.finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing!;
  }
}

export const session = new SessionStore();

/** Adds the bearer token, and retries a unary call once after a refresh on UNAUTHENTICATED. */
const bearer: Interceptor = (next) => async (request) => {
  const token = await session.accessToken();
  if (token) request.header.set("authorization", `Bearer ${token}`);
  try {
    return await next(request);
  } catch (e) {
    if (!token || request.stream || ConnectError.from(e).code !== Code.Unauthenticated) throw e;
    const fresh = await session.refresh();
    if (!fresh) throw e;
    request.header.set("authorization", `Bearer ${fresh}`);
    return await next(request);
  }
};

const origin = typeof location === "undefined" ? "http://127.0.0.1:8080" : location.origin;

/**
 * The transport of every authenticated call. Exported for clients made in a lazily loaded
 * chunk (notifications), so their generated code stays out of the bundle loaded at start.
 */
export const transport = createGrpcWebTransport({ baseUrl: origin, interceptors: [bearer] });

// The auth service is called under /v1/auth, the refresh cookie's path: browsers send the
// cookie only there, and the gateway serves AuthService at that prefix too.
const authTransport = createGrpcWebTransport({ baseUrl: `${origin}/v1/auth` });

export const auth = createClient(AuthService, authTransport);
export const account = createClient(AccountService, transport);
export const board = createClient(BoardService, transport);
export const messaging = createClient(MessagingService, transport);
export const timetable = createClient(TimetableService, transport);

/**
 * Follows a server stream until `signal` aborts, handing each item to `onItem`. The stream is
 * opened again when it ends (the gateway bounds every call's duration) or fails, after a
 * back-off from 0.5 s doubling to 15 s (back to 0.5 s after a stream that stayed open 10 s).
 * Each reopened stream calls `onReopen` once its headers arrive, that is once the server has
 * subscribed: what came while the stream was down is only in the lists, so re-read them then.
 * An expired access token ends a stream; it is refreshed before reopening, and the loop ends
 * when the session is gone.
 */
export async function followStream<T>(
  open: (options: CallOptions) => AsyncIterable<T>,
  onItem: (item: T) => void,
  onReopen: () => void,
  signal: AbortSignal,
): Promise<void> {
  let backoff = 500;
  for (let attempt = 0; !signal.aborted; attempt++) {
    const opened = Date.now();
    try {
      for await (const item of open({ signal, onHeader: attempt > 0 ? onReopen : undefined })) onItem(item);
    } catch (e) {
      if (signal.aborted) return;
      if (ConnectError.from(e).code === Code.Unauthenticated && !(await session.refresh().catch(() => ""))) return;
    }
    backoff = Date.now() - opened > 10_000 ? 500 : Math.min(backoff * 2, 15_000);
    await new Promise((r) => setTimeout(r, backoff));
  }
}

export async function login(loginId: string, password: string) {
  session.set(await auth.login({ loginId, password }));
}

export async function logout() {
  try {
    await auth.logout({});
  } finally {
    session.clear();
  }
}

// ---- errors -------------------------------------------------------------------------------

export interface ErrorInfo {
  reason: string;
  metadata: Record<string, string>;
}

export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * Fields 1 and 2 (both strings) of an embedded message: a map entry's key and value, or a field
 * violation's field and description.
 */
function readPair(bytes: Uint8Array): [string, string] {
  const reader = new BinaryReader(bytes);
  const pair: [string, string] = ["", ""];
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if ((field === 1 || field === 2) && wire === WireType.LengthDelimited) pair[field - 1] = reader.string();
    else reader.skip(wire);
  }
  return pair;
}

function readErrorInfo(bytes: Uint8Array): ErrorInfo {
  const reader = new BinaryReader(bytes);
  const info: ErrorInfo = { reason: "", metadata: {} };
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.LengthDelimited) info.reason = reader.string();
    else if (field === 3 && wire === WireType.LengthDelimited) {
      const [key, value] = readPair(reader.bytes());
      info.metadata[key] = value;
    } else reader.skip(wire);
  }
  return info;
}

function readBadRequest(bytes: Uint8Array): FieldViolation[] {
  const reader = new BinaryReader(bytes);
  const violations: FieldViolation[] = [];
  while (reader.pos < reader.len) {
    const [field, wire] = reader.tag();
    if (field === 1 && wire === WireType.LengthDelimited) {
      const [name, description] = readPair(reader.bytes());
      violations.push({ field: name, description });
    } else reader.skip(wire);
  }
  return violations;
}

/** A failed call as the UI needs it: the code, the stable reason and the field violations. */
export class ApiError extends Error {
  constructor(
    readonly code: Code,
    readonly reason: string,
    readonly metadata: Record<string, string>,
    readonly violations: FieldViolation[],
    readonly serverMessage: string,
  ) {
    super(serverMessage);
  }

  static from(e: unknown): ApiError {
    if (e instanceof ApiError) return e;
    const error = ConnectError.from(e);
    // fetch() itself failed: no answer came back at all (offline, server down).
    if (e instanceof TypeError || error.cause instanceof TypeError) {
      return new ApiError(Code.Unavailable, "", {}, [], error.rawMessage);
    }
    let info: ErrorInfo = { reason: "", metadata: {} };
    let violations: FieldViolation[] = [];
    for (const detail of error.details) {
      if (!("type" in detail) || !(detail.value instanceof Uint8Array)) continue;
      if (detail.type === "google.rpc.ErrorInfo") info = readErrorInfo(detail.value);
      else if (detail.type === "google.rpc.BadRequest") violations = readBadRequest(detail.value);
    }
    return new ApiError(error.code, info.reason, info.metadata, violations, error.rawMessage);
  }
}

const FIELD_NAMES: Record<string, string> = {
  loginId: "아이디",
  password: "비밀번호",
  newPassword: "새 비밀번호",
  currentPassword: "현재 비밀번호",
  emailCode: "인증번호",
  code: "인증번호",
  nickname: "닉네임",
  email: "이메일",
  schoolId: "학교",
  title: "제목",
  content: "내용",
  reason: "신고 사유",
  rating: "별점",
  name: "이름",
  credits: "학점",
  grade: "성적",
  courses: "과목",
  query: "검색어",
};

const DAY_NAMES = ["", "월", "화", "수", "목", "금", "토", "일"];

export function clock(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

export function dayName(day: number): string {
  return DAY_NAMES[day] ?? "";
}

const REASONS: Record<string, string | ((m: Record<string, string>) => string)> = {
  TIME_CONFLICT: (m) =>
    `「${m.conflictingName ?? "다른 수업"}」와(과) 시간이 겹쳐요` +
    (m.day ? ` (${dayName(Number(m.day))} ${clock(Number(m.startMinute))}–${clock(Number(m.endMinute))})` : ""),
  LECTURE_ALREADY_ADDED: "이미 시간표에 있는 수업이에요.",
  TOO_MANY_LECTURES: "한 시간표에는 30과목까지 넣을 수 있어요.",
  TOO_MANY_ENTRIES: "일정을 더 넣을 수 없어요.",
  SEMESTER_MISMATCH: "이 시간표와 학기가 다른 수업이에요.",
  INVALID_CREDENTIALS: "아이디 또는 비밀번호가 올바르지 않아요.",
  TOO_MANY_ATTEMPTS: "로그인 시도가 너무 많아요. 잠시 후 다시 해 주세요.",
  RATE_LIMITED: "요청이 너무 많아요. 잠시 후 다시 해 주세요.",
  LOGIN_ID_TAKEN: "이미 쓰이는 아이디예요.",
  EMAIL_TAKEN: "이미 가입된 이메일이에요.",
  EMAIL_CODE_INVALID: "인증번호가 맞지 않아요.",
  EMAIL_CODE_EXPIRED: "인증번호가 만료됐어요. 새로 받아 주세요.",
  EMAIL_CODE_TOO_MANY_TRIES: "인증번호를 너무 많이 틀렸어요. 새로 받아 주세요.",
  EMAIL_CODE_TOO_SOON: "인증번호는 1분에 한 번 받을 수 있어요. 잠시 후 다시 해 주세요.",
  NICKNAME_CHANGE_TOO_SOON: "닉네임은 30일에 한 번만 바꿀 수 있어요.",
  WRONG_PASSWORD: "비밀번호가 올바르지 않아요.",
  NICKNAME_TAKEN: "이미 쓰이는 닉네임이에요.",
  CANNOT_LIKE_OWN_POST: "내 글에는 공감할 수 없어요.",
  CANNOT_LIKE_OWN_COMMENT: "내 댓글에는 공감할 수 없어요.",
  ALREADY_LIKED: "이미 공감했어요.",
  CANNOT_SCRAP_OWN_POST: "내 글은 스크랩할 수 없어요.",
  ALREADY_SCRAPPED: "이미 스크랩했어요.",
  CANNOT_REPORT_OWN_POST: "내 글은 신고할 수 없어요.",
  CANNOT_REPORT_OWN_COMMENT: "내 댓글은 신고할 수 없어요.",
  ALREADY_REPORTED: "이미 신고했어요.",
  CANNOT_MESSAGE_SELF: "나에게는 쪽지를 보낼 수 없어요.",
  CONVERSATION_BLOCKED: "차단된 대화라 쪽지를 보낼 수 없어요.",
  ALREADY_FRIENDS: "이미 친구예요.",
  FRIEND_REQUEST_PENDING: "이미 친구 요청을 보냈어요.",
  CANNOT_BEFRIEND_SELF: "나에게는 친구 요청을 보낼 수 없어요.",
  FRIEND_REQUEST_NOT_PENDING: "이미 처리된 친구 요청이에요.",
  REVIEW_EXISTS: "이 강의에는 이미 강의평을 남겼어요.",
  NOT_OWNER: "작성자만 할 수 있어요.",
  ORIGIN_NOT_ALLOWED: "허용되지 않은 주소에서 접속했어요.",
};

/** A Korean sentence for any failure, for showing next to what failed. */
export function describe(e: unknown): string {
  const error = ApiError.from(e);
  const byReason = REASONS[error.reason];
  if (byReason) return typeof byReason === "function" ? byReason(error.metadata) : byReason;
  if (error.violations.length > 0) {
    return error.violations
      .map((v) => `${FIELD_NAMES[v.field] ?? v.field}: ${v.description}`)
      .join(" · ");
  }
  switch (error.code) {
    case Code.Unauthenticated:
      return "로그인이 필요해요.";
    case Code.PermissionDenied:
      return "권한이 없어요.";
    case Code.NotFound:
      return "찾을 수 없어요. 삭제되었을 수 있어요.";
    case Code.AlreadyExists:
      return "이미 있어요.";
    case Code.ResourceExhausted:
      return "요청이 너무 많아요. 잠시 후 다시 해 주세요.";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Canceled:
      return "서버에 연결할 수 없어요. 잠시 후 다시 해 주세요.";
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
      return `요청을 처리할 수 없어요 (${error.serverMessage}).`;
    default:
      return "문제가 생겼어요. 잠시 후 다시 해 주세요.";
  }
}

// ---- formatting ---------------------------------------------------------------------------

export function date(ts: Timestamp | undefined): Date | null {
  return ts ? timestampDate(ts) : null;
}

/** "방금", "5분 전", "14:03", "11/26", as Everytime shows times. */
export function ago(ts: Timestamp | undefined, now = Date.now()): string {
  const d = date(ts);
  if (!d) return "";
  const seconds = Math.max(0, (now - d.getTime()) / 1000);
  if (seconds < 60) return "방금";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}분 전`;
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return `${clock(d.getHours() * 60 + d.getMinutes())}`;
  const md = `${String(d.getMonth() + 1).padStart(2, "0")}/${String(d.getDate()).padStart(2, "0")}`;
  return d.getFullYear() === today.getFullYear() ? md : `${String(d.getFullYear()).slice(2)}/${md}`;
}
