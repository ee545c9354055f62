import { ContactSheetError } from '../../core/errors';
import type { Subcommand } from '../io';

// Placeholder until the owning issue lands: refuses clearly instead of pretending to work.
export const score: Subcommand = async () => {
  throw new ContactSheetError('internal', '"score" is not implemented yet.', { action: 'Use a newer build of Contact Sheet.' });
};
