import { runSchedules } from './schedules';

// CI runs 10,000 schedules in four files so Jest can spread them over its workers.
describe('safety simulation, part 1 of 4', () => runSchedules(1, 2_500));
