export { openStoredLog, type StoredEventRow, type StoredLog } from './stored-log';
