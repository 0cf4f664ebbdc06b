// The attendance file in the teacher's words and time zone: the column names, status and role
// words from the catalogue, and the offset of the local time its times are written in. The
// app writes the file (`export_report`); the words are here, each key written out so the i18n
// test sees it.

import type { ReportWords } from '../api';
import { t } from '../i18n.svelte';

/** `UTC+08:00` for 480 minutes east of UTC, `UTC-03:30` for -210. */
export function zoneName(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The words for a file exported at `now`, in the page's language. */
export function reportWords(now: Date = new Date()): ReportWords {
  // getTimezoneOffset() is minutes west of UTC; the app takes minutes east.
  const offset = -now.getTimezoneOffset() || 0;
  const zone = zoneName(offset);
  return {
    columns: [
      t('class.tools.report.columns.status'),
      t('class.tools.report.columns.identity'),
      t('class.tools.report.columns.name'),
      t('class.tools.report.columns.role'),
      t('class.tools.report.columns.rosterName'),
      t('class.tools.report.columns.firstJoined', { zone }),
      t('class.tools.report.columns.lastLeft', { zone }),
      t('class.tools.report.columns.minutes'),
      t('class.tools.report.columns.reconnects'),
      t('class.tools.report.columns.rollCallsAnswered'),
      t('class.tools.report.columns.rollCalls'),
      t('class.tools.report.columns.handsRaised'),
      t('class.tools.report.columns.chatMessages'),
      t('class.tools.report.columns.quizCorrect'),
      t('class.tools.report.columns.quizQuestions'),
    ],
    present: t('class.tools.report.present'),
    left: t('class.tools.report.left'),
    absent: t('class.tools.report.absent'),
    teacher: t('class.tools.report.teacher'),
    assistant: t('class.tools.report.assistant'),
    student: t('class.tools.report.student'),
    observer: t('class.tools.report.observer'),
    other: t('class.tools.report.other'),
    utcOffsetMinutes: offset,
  };
}
