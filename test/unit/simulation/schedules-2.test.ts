import { runSchedules } from './schedules';

// CI runs 10,000 schedules in four files so Jest can spread them over its workers.
describe('safety simulation, part 2 of 4', () => runSchedules(2501, 2_500));
