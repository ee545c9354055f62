/** Command ids contributed in package.json (a unit test checks both lists agree). */
export const COMMAND_IDS = [
  'contactSheet.generate',
  'contactSheet.openRun',
  'contactSheet.setApiToken',
  'contactSheet.downloadModels',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];
