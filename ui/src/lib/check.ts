// The check before a class, in words and numbers the dialog shows: whether the microphone was
// heard and what the connection check found (the meter's scale is the figures table's,
// `levelPercent` in format.ts). Pure, so it is tested without the app.

import type { NetworkCheck, Verdict } from './api';
import { t } from './i18n.svelte';

/**
 * Asks `status` for the running check every `ms` while `running()` holds, each answer to
 * `onview`; a failure goes to `onfail` and ends the polling. The one poll of the check dialog
 * and the homework camera. Returns what stops it.
 */
export function pollCheck<V>(
  ms: number,
  status: () => Promise<V>,
  running: () => boolean,
  onview: (view: V) => void,
  onfail: (reason: unknown) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = () => {
    timer = setTimeout(async () => {
      if (!running()) return;
      try {
        onview(await status());
      } catch (reason) {
        onfail(reason);
        return;
      }
      if (running()) next();
    }, ms);
  };
  next();
  return () => clearTimeout(timer);
}

/** Loud enough (peak, dBFS) to count as "we hear you": speech at arm's length is -30 to -10. */
export const HEARD_DB = -45;

/** Whether the microphone has heard something since the check started. */
export function heard(loudestDb: number): boolean {
  return loudestDb >= HEARD_DB;
}

/** How a result reads: its tone (the colour) and its sentence. */
export interface Finding {
  tone: Verdict;
  text: string;
}

const verdictText: Record<Verdict, () => string> = {
  good: () => t('check.network.good'),
  fair: () => t('check.network.fair'),
  poor: () => t('check.network.poor'),
};

/** Milliseconds as people read them: a tenth below 10 ms (a LAN's 0.4 ms is not 0). */
export function millis(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

/** The connection check in the person's language. */
export function networkFinding(check: NetworkCheck): Finding {
  if (check.kind === 'server') {
    const figures = t('check.network.figures', {
      rtt: millis(check.roundTripMs),
      jitter: millis(check.jitterMs),
    });
    const secure = check.secure ? ` ${t('check.network.secure')}` : '';
    return { tone: check.verdict, text: `${verdictText[check.verdict]()} ${figures}${secure}` };
  }
  if (check.addresses.length === 0) {
    return { tone: 'poor', text: t('check.network.noNetwork') };
  }
  const where = t('check.network.hosting', { addresses: check.addresses.join(', '), port: check.port });
  return check.portTaken
    ? { tone: 'fair', text: `${where} ${t('check.network.portTaken', { port: check.port })}` }
    : { tone: 'good', text: where };
}
