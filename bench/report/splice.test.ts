import test from 'ava';
import { spliceSection } from './splice.js';

const doc = 'intro\n<!-- bench:moves:start -->\nold table\n<!-- bench:moves:end -->\nafter\n';

test('the text between the markers is replaced and everything around it kept', (t) => {
  const once = spliceSection(doc, 'moves', 'new table');
  t.is(once, 'intro\n<!-- bench:moves:start -->\nnew table\n<!-- bench:moves:end -->\nafter\n');
  t.is(spliceSection(once, 'moves', 'new table'), once);
});

test('a missing, repeated or reversed marker is refused, naming it', (t) => {
  t.throws(() => spliceSection(doc, 'dataplane', 'x'), { message: 'marker <!-- bench:dataplane:start --> not found' });
  t.throws(() => spliceSection(`${doc}<!-- bench:moves:end -->\n`, 'moves', 'x'), { message: 'marker <!-- bench:moves:end --> appears more than once' });
  t.throws(() => spliceSection('<!-- bench:moves:end -->\n<!-- bench:moves:start -->\n', 'moves', 'x'),
    { message: 'marker <!-- bench:moves:end --> comes before <!-- bench:moves:start -->' });
});
