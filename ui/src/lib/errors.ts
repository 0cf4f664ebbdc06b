// An `AppError` in words: its kind picks the sentence in the person's language; the English
// detail from Rust (a server's reason, GStreamer's message) may follow it.

import type { AppError, AppErrorKind } from './api';
import { t } from './i18n.svelte';

// One entry per kind, written out so the i18n test sees every key; TypeScript insists on a
// sentence for each kind Rust can send.
const sentences: Record<AppErrorKind, () => string> = {
  invalidName: () => t('errors.invalidName'),
  invalidServer: () => t('errors.invalidServer'),
  invalidRoom: () => t('errors.invalidRoom'),
  invalidToken: () => t('errors.invalidToken'),
  invalidCode: () => t('errors.invalidCode'),
  noClassForCode: () => t('errors.noClassForCode'),
  connection: () => t('errors.connection'),
  refused: () => t('errors.refused'),
  media: () => t('errors.media'),
  alreadyInClass: () => t('errors.alreadyInClass'),
  notInClass: () => t('errors.notInClass'),
  unknownDevice: () => t('errors.unknownDevice'),
  cancelled: () => t('errors.cancelled'),
  storage: () => t('errors.storage'),
  invalid: () => t('errors.invalid'),
  cannotHost: () => t('errors.cannotHost'),
  noNetwork: () => t('errors.noNetwork'),
  classUnreachable: () => t('errors.classUnreachable'),
  classGone: () => t('errors.classGone'),
  invalidVideoRequest: () => t('errors.invalidVideoRequest'),
  diskFull: () => t('errors.diskFull'),
  damaged: () => t('errors.damaged'),
  libraryFull: () => t('errors.libraryFull'),
  badFile: () => t('errors.badFile'),
  locked: () => t('errors.locked'),
  untrusted: () => t('errors.untrusted'),
  internal: () => t('errors.internal'),
};

/** The sentence for an error's kind; a kind this UI does not know yet reads as internal. */
export function errorSentence(error: AppError): string {
  const sentence = Object.prototype.hasOwnProperty.call(sentences, error.kind)
    ? sentences[error.kind]
    : sentences.internal;
  return sentence();
}

/** The sentence, then the detail when there is one worth showing. */
export function errorText(error: AppError): string {
  return withDetail(errorSentence(error), error.message);
}

/** A sentence in the person's language followed by words from elsewhere (a server's, Rust's),
 * when there are any. */
export function withDetail(sentence: string, detail: string): string {
  const words = detail.trim();
  return words === '' ? sentence : t('errors.withDetail', { sentence, detail: words });
}
