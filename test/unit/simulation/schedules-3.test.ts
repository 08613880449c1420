import { runSchedules } from './schedules';

// CI runs 10,000 schedules in four files so Jest can spread them over its workers.
describe('safety simulation, part 3 of 4', () => runSchedules(5001, 2_500));
