import test from 'ava';
import { operatorCommand } from './command.js';

/** Parses the operator's arguments as the CLI would, its errors thrown rather than exiting. */
const parse = (args: string[]) => operatorCommand().exitOverride().configureOutput({ writeErr: () => {} }).parseAsync(args, { from: 'user' });

test('a renew deadline as long as the lease is refused: the leader must give up before a standby may take over', async (t) => {
  await t.throwsAsync(parse(['--leader-elect', '--lease-duration', '5', '--renew-deadline', '5']),
    { message: /--renew-deadline \(5 s\) must be less than --lease-duration \(5 s\)/ });
});

test('the lease duration is whole seconds (the Lease\'s leaseDurationSeconds is an integer)', async (t) => {
  await t.throwsAsync(parse(['--leader-elect', '--lease-duration', '8.5']), { message: /--lease-duration must be a whole number of seconds > 0, got "8\.5"/ });
});

test('the retry period is a positive number of seconds', async (t) => {
  await t.throwsAsync(parse(['--leader-elect', '--retry-period', '0']), { message: /--retry-period must be a number of seconds > 0, got "0"/ });
});
