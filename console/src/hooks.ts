/** Small data hooks shared by the pages. */
import { type DependencyList, useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again (after a change), keeping the old data on screen until the new arrives. */
  reload: () => void;
  /** Replaces the data without a request (e.g. with a write's answer). */
  set: (data: T) => void;
}

/** Runs `load` when `deps` change; the answer of a superseded load is dropped. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller names the dependencies
  useEffect(() => {
    const mine = ++generation.current;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(ctl.signal).then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error) =>
        mine === generation.current &&
        (error as Error)?.name !== "AbortError" &&
        setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const set = useCallback((data: T) => setState({ data, error: undefined, loading: false }), []);
  return { ...state, reload, set };
}

/** Sets the document title for the page. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · Warrant console`;
  }, [title]);
}
