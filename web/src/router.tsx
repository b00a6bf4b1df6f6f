// A small history-API router: real URLs (/boards/123) that the server answers with index.html,
// links that are real <a href> (open in a new tab, keyboard, screen readers), and no library.

import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

type RouteListener = () => void;
const listeners = new Set<RouteListener>();

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

if (typeof window !== "undefined") {
  window.addEventListener("popstate", () => listeners.forEach((l) => l()));
}

/** The current path, re-rendering on navigation. */
export function usePath(): string {
  // The state includes the query so that a change of query alone re-renders too.
  const [, setHref] = useState(location.pathname + location.search);
  useEffect(() => {
    const listener = () => setHref(location.pathname + location.search);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return location.pathname;
}

export function useQuery(): URLSearchParams {
  usePath();
  return new URLSearchParams(location.search);
}

/** Matches `/boards/:id` against a path; the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children?: ComponentChildren };

/**
 * An <a> that navigates in place on a plain click and acts as a normal link otherwise. An
 * `onClick` given runs first; its `preventDefault` keeps the link from navigating.
 */
export function Link({ href, children, onClick: before, ...rest }: LinkProps) {
  const onClick = (e: MouseEvent) => {
    (before as ((e: MouseEvent) => void) | undefined)?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  const current = typeof location !== "undefined" && location.pathname === href ? "page" : undefined;
  return (
    <a href={href} onClick={onClick} aria-current={current} {...rest}>
      {children}
    </a>
  );
}
