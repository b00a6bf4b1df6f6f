// Building blocks every screen shares: the loading, empty and error states, a data hook with
// retry, and an infinite list that also works from the keyboard.

import type { ComponentChildren, InputHTMLAttributes, LooseInputHTMLAttributes } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { describe } from "./api";

export function Loading({ label = "불러오는 중…" }: { label?: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <p>{describe(error)}</p>
      {retry && (
        <button type="button" class="secondary" onClick={retry}>
          다시 시도
        </button>
      )}
    </div>
  );
}

/** An inline message under a form or next to the thing that failed. */
export function InlineError({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  return (
    <p class="inline-error" role="alert" id={id}>
      {describe(error)}
    </p>
  );
}

/**
 * Events from outside the component tree (a live stream) for the screens showing them:
 * `emit` hands an event to every mounted listener.
 */
export function channel<E>() {
  const listeners = new Set<(event: E) => void>();
  return {
    emit: (event: E) => listeners.forEach((l) => l(event)),
    /** Calls `listener` (as of the latest render) with each event while the caller is mounted. */
    useListener(listener: (event: E) => void) {
      const ref = useRef(listener);
      ref.current = listener;
      useEffect(() => {
        const l = (e: E) => ref.current(e);
        listeners.add(l);
        return () => {
          listeners.delete(l);
        };
      }, []);
    },
  };
}

export type Async<T> =
  | { state: "loading" }
  | { state: "error"; error: unknown }
  | { state: "ready"; value: T };

/** Runs `load` whenever `deps` change; `reload` runs it again; `set` replaces the value. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]) {
  const [result, setResult] = useState<Async<T>>({ state: "loading" });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setResult((r) => (r.state === "ready" ? r : { state: "loading" }));
    load().then(
      (value) => mine === generation.current && setResult({ state: "ready", value }),
      (error) => mine === generation.current && setResult({ state: "error", error }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    setResult({ state: "loading" });
    run();
  }, [run]);
  const set = useCallback((value: T) => setResult({ state: "ready", value }), []);
  return { result, reload: run, set };
}

/** Renders the three states of an Async. */
export function Show<T>({
  value,
  retry,
  children,
}: {
  value: Async<T>;
  retry?: () => void;
  children: (value: T) => ComponentChildren;
}) {
  if (value.state === "loading") return <Loading />;
  if (value.state === "error") return <ErrorBox error={value.error} retry={retry} />;
  return <>{children(value.value)}</>;
}

interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/**
 * A keyset-paginated list that loads the next page when its end scrolls into view, with a
 * "더 보기" button for keyboards and for when observing is not possible.
 */
export function useInfinite<T>(fetch: (pageToken: string) => Promise<Page<T>>, deps: unknown[]) {
  const [items, setItems] = useState<T[]>([]);
  const [token, setToken] = useState("");
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);
  const busy = useRef(false);

  const more = useCallback(
    (reset = false) => {
      if (busy.current && !reset) return;
      const mine = reset ? ++generation.current : generation.current;
      busy.current = true;
      setLoading(true);
      setError(null);
      fetch(reset ? "" : token).then(
        (page) => {
          if (mine !== generation.current) return;
          setItems((old) => (reset ? page.items : [...old, ...page.items]));
          setToken(page.nextPageToken);
          setDone(!page.nextPageToken);
          setLoading(false);
          busy.current = false;
        },
        (e) => {
          if (mine !== generation.current) return;
          setError(e);
          setLoading(false);
          busy.current = false;
        },
      );
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [token, ...deps],
  );

  useEffect(() => {
    setItems([]);
    setToken("");
    setDone(false);
    more(true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { items, setItems, more: () => more(false), reload: () => more(true), done, loading, error };
}

/** The end of an infinite list: a sentinel that loads more when visible, and the states. */
export function ListEnd({
  list,
  empty,
}: {
  list: { items: unknown[]; more: () => void; done: boolean; loading: boolean; error: unknown };
  empty: ComponentChildren;
}) {
  const sentinel = useRef<HTMLDivElement>(null);
  const { more, done, loading, error } = list;
  useEffect(() => {
    const node = sentinel.current;
    if (!node || done || error || typeof IntersectionObserver === "undefined") return;
    const observer = new IntersectionObserver(
      (entries) => entries.some((e) => e.isIntersecting) && more(),
      { rootMargin: "200px" },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, [more, done, error, loading]);
  if (error) return <ErrorBox error={error} retry={more} />;
  if (loading) return <Loading />;
  if (done) return list.items.length === 0 ? <Empty>{empty}</Empty> : <p class="state end">마지막이에요</p>;
  return (
    <div ref={sentinel} class="more">
      <button type="button" class="secondary" onClick={more}>
        더 보기
      </button>
    </div>
  );
}

/** Sets the document title for a screen. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · 캠퍼스` : "캠퍼스";
  }, [title]);
}

/** A button that disables itself while its async action runs. */
export function ActionButton({
  onClick,
  children,
  class: className,
  label,
  pressed,
  disabled,
}: {
  onClick: () => Promise<unknown>;
  children: ComponentChildren;
  class?: string;
  label?: string;
  pressed?: boolean;
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={className}
      aria-label={label}
      aria-pressed={pressed}
      disabled={busy || disabled}
      onClick={async () => {
        setBusy(true);
        try {
          await onClick();
        } finally {
          setBusy(false);
        }
      }}
    >
      {children}
    </button>
  );
}

type FieldProps = LooseInputHTMLAttributes & { label: string; name?: string; hint?: string; onValue?: (value: string) => void };

/**
 * A labelled text field: the label wraps the input, so it names it. A hint goes under the field
 * and describes the input (aria-describedby); its id is the input's name in kebab case with
 * "-hint" ("loginId" → "login-id-hint"). `onValue` hears every edit.
 */
export function Field({ label, hint, onValue, ...input }: FieldProps) {
  const hintId = hint && `${input.name?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}-hint`;
  const field = (
    <label>
      {label}
      <input
        {...(input as InputHTMLAttributes)}
        aria-describedby={hintId}
        onInput={onValue && ((e) => onValue(e.currentTarget.value))}
      />
    </label>
  );
  if (!hint) return field;
  return (
    <div class="field">
      {field}
      <small id={hintId}>{hint}</small>
    </div>
  );
}

/** A required password field: the current password, or a new one of 8–64 characters. */
export function PasswordField({ isNew, ...field }: FieldProps & { isNew?: boolean }) {
  return (
    <Field
      type="password"
      autocomplete={isNew ? "new-password" : "current-password"}
      required
      minLength={isNew ? 8 : undefined}
      maxLength={isNew ? 64 : undefined}
      {...field}
    />
  );
}

/**
 * A form's submit handler (or a button's click handler) that runs `action`, keeping whether it
 * runs and what it threw.
 */
export function useSubmit(action: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { submit, busy, error };
}

/**
 * A search form: the query (its label visually hidden), any further controls, and the 검색
 * button. `onSearch` gets the trimmed query; `name` names the form when a screen has several.
 */
export function SearchBox({
  id,
  label,
  name,
  placeholder,
  value,
  onInput,
  onSearch,
  children,
}: {
  id: string;
  label: string;
  name?: string;
  placeholder: string;
  value: string;
  onInput: (value: string) => void;
  onSearch: (query: string) => void;
  children?: ComponentChildren;
}) {
  return (
    <form
      class="search"
      role="search"
      aria-label={name}
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(value.trim());
      }}
    >
      <label class="visually-hidden" for={id}>
        {label}
      </label>
      <input id={id} type="search" placeholder={placeholder} value={value} onInput={(e) => onInput(e.currentTarget.value)} />
      {children}
      <button type="submit" class="secondary">
        검색
      </button>
    </form>
  );
}
