/** `openmb describe`: what the operator needs to know of a middlebox type, before any instance of it runs. */
import { Command, Option } from 'commander';
import { MIDDLEBOXES, middleboxByType } from '../shims/middleboxes/registry.js';
import { describe } from '../shims/shim/descriptor.js';

export function describeCommand(): Command {
  return new Command('describe')
    .description('print a middlebox type\'s descriptor as JSON: its partition key, whether new instances get a copy of its all-flows state, its default configuration, how its outputs merge across instances')
    .addOption(new Option('--type <type>', 'middlebox type').choices(Object.keys(MIDDLEBOXES)).makeOptionMandatory())
    .action((o: { type: string }) => {
      process.stdout.write(`${JSON.stringify(describe(middleboxByType(o.type)), null, 2)}\n`);
    });
}
