// Typed wrappers around the Rust commands in src-tauri/src/commands/. Components call these and
// never `invoke` directly, so a renamed command or field breaks in one place.

import { invoke } from '@tauri-apps/api/core';
import type { JoinField, JoinForm, Role } from './join';

/** Values from the command line (`--role --server --room --name`); null where not given. */
export interface LaunchOptions {
  role: Role | null;
  server: string | null;
  room: string | null;
  name: string | null;
}

/** What `join_class` returns when the request is accepted. */
export interface JoinAccepted {
  role: Role;
  name: string;
  room: string;
  server: string;
}

/** Rust's `AppError` kinds; `internal` stands for anything that did not come from the app. */
export type AppErrorKind = 'invalidName' | 'invalidServer' | 'invalidRoom' | 'internal';

/** The error every command rejects with: `{ kind, message }`. */
export interface AppError {
  kind: AppErrorKind;
  message: string;
}

/** The form field an error is about, if any. */
export function fieldOf(error: AppError): JoinField | undefined {
  switch (error.kind) {
    case 'invalidName':
      return 'name';
    case 'invalidServer':
      return 'server';
    case 'invalidRoom':
      return 'room';
    default:
      return undefined;
  }
}

/**
 * Turns whatever a rejected `invoke` gave into an `AppError`. The app's own commands reject with
 * `{ kind, message }`; Tauri itself rejects with a plain string (e.g. a refused permission).
 */
export function toAppError(reason: unknown): AppError {
  if (typeof reason === 'object' && reason !== null) {
    const { kind, message } = reason as Record<string, unknown>;
    if (typeof kind === 'string' && typeof message === 'string') {
      return { kind: kind as AppErrorKind, message };
    }
  }
  const message = reason instanceof Error ? reason.message : String(reason);
  return { kind: 'internal', message };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toAppError(reason);
  }
}

/** Tells the app the page has mounted (tests wait for this). */
export function uiReady(): Promise<void> {
  return call('ui_ready');
}

/** Reads the command-line values to pre-fill the join screen. */
export function launchOptions(): Promise<LaunchOptions> {
  return call('launch_options');
}

/** Asks the app to join a class; rejects with an `AppError`. */
export function joinClass(form: JoinForm): Promise<JoinAccepted> {
  return call('join_class', { form });
}
