// React bindings: `import { useStore } from "hotstate/react"`.
import { useCallback, useSyncExternalStore } from "react";
import type { HotstateClient } from "./client.js";

const identity = <T>(state: T): T => state;

/**
 * useStore subscribes the component to the store name while it is mounted
 * and returns the store's state, optimistic updates included, or undefined
 * until the first snapshot arrives. With a selector it returns the
 * selector's result instead; the component re-renders only when that
 * result's identity changes. Patches keep the identity of every part of
 * the state they do not touch, so selecting a part (s => s?.items) costs
 * nothing when other parts change. A selector must not build a new object
 * on every call.
 */
export function useStore<T = unknown, U = T | undefined>(
  client: HotstateClient,
  name: string,
  selector: (state: T | undefined) => U = identity as (state: T | undefined) => U,
): U {
  const subscribe = useCallback(
    (notify: () => void) => {
      const handle = client.subscribe(name, notify);
      return () => handle.unsubscribe();
    },
    [client, name],
  );
  const get = () => selector(client.getState<T>(name));
  return useSyncExternalStore(subscribe, get, get);
}

/** useSubscription is another name for useStore. */
export const useSubscription = useStore;
