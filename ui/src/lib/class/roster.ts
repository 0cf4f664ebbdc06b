// Why a roster file was not taken, in the teacher's language (the app reads the file and
// says what is wrong with it as a `RosterProblem`; the words are here, each key written out
// so the i18n test sees it).

import type { RosterProblem } from '../api';
import { t } from '../i18n.svelte';

/** The sentence for `problem`. */
export function rosterProblemText(problem: RosterProblem): string {
  switch (problem.kind) {
    case 'tooLarge':
      return t('class.tools.rosterProblems.tooLarge', { maxMb: problem.maxMb });
    case 'workbook':
      return t('class.tools.rosterProblems.workbook');
    case 'unreadableWorkbook':
      return t('class.tools.rosterProblems.unreadableWorkbook', { detail: problem.detail });
    case 'notText':
      return t('class.tools.rosterProblems.notText', { encoding: problem.encoding });
    case 'noNameColumn':
      return t('class.tools.rosterProblems.noNameColumn', { line: problem.line });
    case 'emptyName':
      return t('class.tools.rosterProblems.emptyName', { line: problem.line });
    case 'nameTooLong':
      return t('class.tools.rosterProblems.nameTooLong', { line: problem.line, max: problem.max });
    case 'idTooLong':
      return t('class.tools.rosterProblems.idTooLong', { line: problem.line, max: problem.max });
    case 'duplicateId':
      return t('class.tools.rosterProblems.duplicateId', { line: problem.line, id: problem.id });
    case 'tooMany':
      return t('class.tools.rosterProblems.tooMany', { line: problem.line, max: problem.max });
    case 'csv':
      return t('class.tools.rosterProblems.csv', { line: problem.line, detail: problem.detail });
  }
}
