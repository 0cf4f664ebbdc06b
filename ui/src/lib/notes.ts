// The class's event list in words: Rust sends what happened as data (`ClassNote`), this says it
// in the person's language. Details from elsewhere (a server's reason, GStreamer's error) stay
// as they came.

import type { ClassNote, EndedWhy, SessionEnd } from './api';
import { errorText, withDetail } from './errors';
import { sourceLabel } from './format';
import { t } from './i18n.svelte';

// One sentence per way a session ends, written out so the i18n test sees every key.
const endings: Record<EndedWhy, () => string> = {
  left: () => t('ended.left'),
  classEnded: () => t('ended.classEnded'),
  serverStopped: () => t('ended.serverStopped'),
  replaced: () => t('ended.replaced'),
  removed: () => t('ended.removed'),
  denied: () => t('ended.denied'),
  expired: () => t('ended.expired'),
  refused: () => t('ended.refused'),
  lost: () => t('ended.lost'),
  other: () => t('ended.other'),
};

// The endings whose sentence says it all; the others are followed by the words that came
// with them (the server's reason, the connection's error), in English.
const complete: ReadonlySet<EndedWhy> = new Set([
  'left',
  'classEnded',
  'serverStopped',
  'replaced',
  'removed',
  'denied',
  'expired',
]);

/** Why a session ended, in the person's language. */
export function endedText(end: SessionEnd): string {
  const known = Object.prototype.hasOwnProperty.call(endings, end.why);
  const sentence = known ? endings[end.why]() : endings.other();
  return complete.has(end.why) ? sentence : withDetail(sentence, end.reason);
}

/** One event as a line of the event list. */
export function noteText(note: ClassNote): string {
  switch (note.kind) {
    case 'joined':
      return t('notes.joined', { participantId: note.participantId });
    case 'reconnecting':
      return t('notes.reconnecting', { attempt: note.attempt, detail: note.detail });
    case 'reconnected':
      return t('notes.reconnected');
    case 'noSchoolNetwork':
      return t('notes.noSchoolNetwork');
    case 'notAnnounced':
      return t('notes.notAnnounced', { detail: note.detail });
    case 'trackStarted':
      return t('notes.trackStarted', { source: sourceLabel(note.source), trackId: note.trackId });
    case 'trackEnded':
      return t('notes.trackEnded', { trackId: note.trackId });
    case 'refused':
      return t('notes.refused', { detail: note.detail });
    case 'mediaProblem':
      return t('notes.mediaProblem', { detail: note.detail });
    case 'trackFailed':
      return t('notes.trackFailed', { source: sourceLabel(note.source), detail: note.detail });
    case 'trackRecovered':
      return t('notes.trackRecovered', { source: sourceLabel(note.source) });
    case 'sessionEnded':
      return t('notes.sessionEnded', { reason: endedText(note.end) });
    case 'noCamera':
      return t('notes.noCamera');
    case 'noMicrophone':
      return t('notes.noMicrophone');
    case 'noSpeaker':
      return t('notes.noSpeaker');
    case 'noDisplay':
      return t('notes.noDisplay');
    case 'waylandUnsupported':
      return t('notes.waylandUnsupported');
    case 'screenStandIn':
      return t('notes.screenStandIn', { error: errorText(note.error) });
    case 'shareFailed':
      return note.error.kind === 'cancelled' ? t('notes.shareCancelled') : errorText(note.error);
    case 'other':
      return t('notes.other', { detail: note.detail });
    default:
      return unknownNote(note);
  }
}

/** A note from a newer Rust than this UI knows: its kind, rather than nothing. */
function unknownNote(note: never): string {
  const kind = (note as { kind?: unknown }).kind;
  return t('notes.other', { detail: String(kind) });
}
