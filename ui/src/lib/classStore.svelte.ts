// The one class state the panels read, fed by the `class-event` and `session-status` events
// through the pure reducer in classState.ts. It listens from the app's start rather than from
// the class view's mount: the server's `state` arrives right after `joined`, while the join
// command is still answering, before the class view exists.

import {
  classRequest,
  onClassEvent,
  onSessionStatus,
  toAppError,
  type AppError,
  type ClassEvent,
  type ClassRequest,
  type SessionStatus,
} from './api';
import { initialState, reduce, reduceStatus, type ClassState } from './classState';

let current = $state.raw<ClassState>(initialState());

/** The class as the panels show it (reactive). */
export function classState(): ClassState {
  return current;
}

/** Applies one class event. */
export function applyClassEvent(event: ClassEvent, nowMs = Date.now()): void {
  current = reduce(current, event, nowMs);
}

/** Applies a change of the connection. */
export function applySessionStatus(status: SessionStatus): void {
  current = reduceStatus(current, status);
}

/** Forgets the class (after leaving, before the next one). */
export function resetClass(): void {
  current = initialState();
}

/** Starts listening to the app's class events; resolves with a function that stops. */
export async function listenToClass(): Promise<() => void> {
  const stops = await Promise.all([
    onClassEvent((event) => applyClassEvent(event)),
    onSessionStatus((status) => applySessionStatus(status)),
  ]);
  return () => stops.forEach((stop) => stop());
}

/**
 * Sends a class request; resolves with the error to show, or null. The server's answer (or
 * its refusal, an error event) comes back as class events.
 */
export async function send(request: ClassRequest): Promise<AppError | null> {
  try {
    await classRequest(request);
    return null;
  } catch (reason) {
    return toAppError(reason);
  }
}

let nowMs = $state(Date.now());
let ticking = 0;
let ticker: ReturnType<typeof setInterval> | undefined;

/** The local time, updated every half second while some countdown is shown (reactive). */
export function now(): number {
  return nowMs;
}

/** Starts the shared clock for a countdown; returns the function that stops this use of it. */
export function useClock(): () => void {
  ticking += 1;
  if (ticker === undefined) {
    nowMs = Date.now();
    ticker = setInterval(() => (nowMs = Date.now()), 500);
  }
  return () => {
    ticking -= 1;
    if (ticking === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };
}
