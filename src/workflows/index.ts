export { remediation } from './remediation';
export { clearTarget } from './clear-target';
