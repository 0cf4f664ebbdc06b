// What the class panels show, rebuilt from the server's class events by one pure reducer:
// `reduce(state, event, now)` returns a new state and never changes the old one, so the store
// (classStore.svelte.ts) can keep it in a `$state.raw` and the tests need no DOM, timers or
// Tauri. The server is the judge of everything; this only remembers what it said.

import type {
  ChatAudience,
  ChatMessage,
  ClassEvent,
  ClassSettings,
  Counts,
  LobbyEntry,
  NameRef,
  ParticipantInfo,
  PollInfo,
  PollResults,
  Reaction,
  ReactionCount,
  Role,
  RollCallInfo,
  SessionStatus,
  TimerInfo,
  YouInfo,
} from './bindings';

/**
 * A chat message as the panels show it: the wire leaves out a student's role and an
 * everyone audience (most of a big class's messages), and a live batch leaves out the time
 * (it left the server within 200 ms of the message); they are filled in here once.
 */
export type ShownChat = ChatMessage & { role: Role; audience: ChatAudience; atMs: number };

function shown(m: ChatMessage, arrivedMs: number): ShownChat {
  return {
    ...m,
    role: m.role ?? 'student',
    audience: m.audience ?? 'everyone',
    atMs: m.atMs ?? arrivedMs,
  };
}

/** Chat messages kept at most (the newest); older ones stay in the server's history. */
export const CHAT_KEPT = 200;

/** The reactions a participant can send, in display order (the Rust `Reaction::ALL`). */
export const REACTIONS: readonly Reaction[] = [
  'thumbsUp',
  'clap',
  'heart',
  'laugh',
  'surprised',
  'confused',
];

/** The symbol shown for each reaction. */
export const REACTION_SYMBOL: Record<Reaction, string> = {
  thumbsUp: '👍',
  clap: '👏',
  heart: '❤️',
  laugh: '😂',
  surprised: '😮',
  confused: '❓',
};

/** Roll-call progress as staff see it. */
export interface RollCallTally {
  rollCallId: number;
  answered: number;
  expected: number;
  missing: NameRef[];
  open: boolean;
}

/** The latest batch of reactions, with when it arrived (local ms) so it can fade. */
export interface ReactionBurst {
  counts: ReactionCount[];
  names: string[];
  atMs: number;
}

/** Everything the panels show. */
export interface ClassState {
  /** The server's clock minus ours, from the last `state` (for countdowns). */
  serverOffsetMs: number;
  /** One's own standing; null until the first `state`. */
  you: YouInfo | null;
  settings: ClassSettings | null;
  counts: Counts;
  /** The participants this receiver may see (staff and stage), by id. */
  participants: ReadonlyMap<string, ParticipantInfo>;
  /** How many the server says are visible to this receiver. */
  participantTotal: number;
  /** Who waits in the lobby, longest first (staff). */
  lobby: readonly LobbyEntry[];
  /** Set while this participant waits in the lobby: the server's reason. */
  waiting: string | null;
  /** Chat, oldest first, at most `CHAT_KEPT` (plus the earlier pages asked for), each id once. */
  chat: readonly ShownChat[];
  /** An earlier-chat request came back empty: there is nothing older to show. */
  chatHistoryEnd: boolean;
  rollCall: RollCallInfo | null;
  tally: RollCallTally | null;
  poll: PollInfo | null;
  results: PollResults | null;
  timer: TimerInfo | null;
  reactions: ReactionBurst | null;
  /** The connection: connected, reconnecting or closed. */
  status: SessionStatus;
}

/** The state before anything arrived. */
export function initialState(): ClassState {
  return {
    serverOffsetMs: 0,
    you: null,
    settings: null,
    counts: { participants: 0, hands: 0, onStage: 0 },
    participants: new Map(),
    participantTotal: 0,
    lobby: [],
    waiting: null,
    chat: [],
    chatHistoryEnd: false,
    rollCall: null,
    tally: null,
    poll: null,
    results: null,
    timer: null,
    reactions: null,
    status: { state: 'connected' },
  };
}

/** Teacher and assistants: they see the participant list and the staff panels. */
export function isStaff(role: Role | null | undefined): boolean {
  return role === 'teacher' || role === 'assistant';
}

/** Merges messages by id (a message seen twice is kept once), oldest first, bounded. */
export function mergeChat(
  kept: readonly ShownChat[],
  arrived: readonly ChatMessage[],
  arrivedMs: number,
  history = false,
): ShownChat[] {
  const byId = new Map<number, ShownChat>();
  for (const m of kept) byId.set(m.id, m);
  for (const m of arrived) byId.set(m.id, shown(m, byId.get(m.id)?.atMs ?? arrivedMs));
  const all = [...byId.values()].sort((a, b) => a.id - b.id);
  // An earlier page someone asked for stays, on top of the newest CHAT_KEPT; the next new
  // messages bring the list back to CHAT_KEPT.
  const cap = history ? Math.max(CHAT_KEPT, kept.length) + arrived.length : CHAT_KEPT;
  return all.length > cap ? all.slice(all.length - cap) : all;
}

/** Strips the `event` tag from a flattened event (`{event: 'you', ...YouInfo}`). */
function untag<T extends { event: string }>(event: T): Omit<T, 'event'> {
  const { event: _tag, ...rest } = event;
  return rest;
}

/** The state after `event`, which arrived at local time `nowMs`. */
export function reduce(state: ClassState, event: ClassEvent, nowMs: number): ClassState {
  switch (event.event) {
    case 'state': {
      // The whole picture (after joining and after each reconnect). The participant list
      // and the lobby come in their own events right after, so they are kept until then.
      const samePoll = state.poll !== null && state.poll.pollId === event.poll?.pollId;
      return {
        ...state,
        serverOffsetMs: event.serverTimeMs - nowMs,
        you: event.you,
        settings: event.settings,
        counts: event.counts,
        waiting: null,
        chat: mergeChat([], event.chat, event.serverTimeMs),
        chatHistoryEnd: false,
        rollCall: event.rollCall ?? null,
        tally:
          state.tally !== null && state.tally.rollCallId === event.rollCall?.rollCallId
            ? state.tally
            : null,
        poll: event.poll ?? null,
        results: samePoll ? state.results : null,
        timer: event.timer ?? null,
        status: { state: 'connected' },
      };
    }
    case 'you':
      return { ...state, you: untag(event), waiting: null };
    case 'settings':
      return { ...state, settings: untag(event) };
    case 'counts':
      return { ...state, counts: untag(event) };
    case 'participants': {
      // A page from the start begins the list again (after a reconnect, people may be gone).
      const participants = new Map(event.offset === 0 ? [] : state.participants);
      for (const p of event.items) participants.set(p.participantId, p);
      return { ...state, participants, participantTotal: event.total };
    }
    case 'participantsChanged': {
      const participants = new Map(state.participants);
      for (const p of event.upserts ?? []) participants.set(p.participantId, p);
      for (const id of event.removed ?? []) participants.delete(id);
      return { ...state, participants, participantTotal: event.total };
    }
    case 'lobby':
      return { ...state, lobby: event.waiting };
    case 'waiting':
      return { ...state, waiting: event.reason };
    case 'chat': {
      const history = event.history === true;
      return {
        ...state,
        // A live batch's messages are stamped with the server's clock as of now.
        chat: mergeChat(state.chat, event.messages, nowMs + state.serverOffsetMs, history),
        chatHistoryEnd: history ? event.messages.length === 0 : state.chatHistoryEnd,
      };
    }
    case 'chatDeleted': {
      const gone = new Set(event.messageIds);
      return { ...state, chat: state.chat.filter((m) => !gone.has(m.id)) };
    }
    case 'rollCall': {
      const rollCall = untag(event);
      const same = state.tally !== null && state.tally.rollCallId === rollCall.rollCallId;
      return {
        ...state,
        rollCall,
        tally: same && state.tally !== null ? { ...state.tally, open: rollCall.open } : null,
      };
    }
    case 'rollCallTally':
      return { ...state, tally: untag(event) };
    case 'poll': {
      const poll = untag(event);
      const same = state.poll !== null && state.poll.pollId === poll.pollId;
      return { ...state, poll, results: same ? state.results : null };
    }
    case 'pollResults':
      return { ...state, results: untag(event) };
    case 'reactions':
      return {
        ...state,
        reactions: { counts: event.counts, names: event.names ?? [], atMs: nowMs },
      };
    case 'timer':
      return { ...state, timer: event.timer ?? null };
    default:
      // `report` and `invites` are other screens' business; newer events are ignored.
      return state;
  }
}

/** The state after the connection's status changed. */
export function reduceStatus(state: ClassState, status: SessionStatus): ClassState {
  return { ...state, status };
}

/** Raised hands in queue order (the class-wide sequence in `hand`). */
export function handsQueue(state: ClassState): ParticipantInfo[] {
  return [...state.participants.values()]
    .filter((p) => p.hand !== undefined && p.hand !== null)
    .sort((a, b) => (a.hand ?? 0) - (b.hand ?? 0));
}

/** Participants for the list: staff first, then by name. */
export function participantList(state: ClassState): ParticipantInfo[] {
  const rank = (r: Role) => (r === 'teacher' ? 0 : r === 'assistant' ? 1 : 2);
  return [...state.participants.values()].sort(
    (a, b) => rank(a.role) - rank(b.role) || a.name.localeCompare(b.name),
  );
}

/** Whole seconds left until `endsMs` (server clock), never negative. */
export function secondsLeft(endsMs: number, serverOffsetMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((endsMs - (nowMs + serverOffsetMs)) / 1000));
}

/** `m:ss` (or `h:mm:ss`) for a countdown. */
export function formatClock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}
