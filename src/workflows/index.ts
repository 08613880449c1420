export { remediation } from './remediation';
export { clearTarget } from './clear-target';
export { checkAction, listActions } from './catalog';
