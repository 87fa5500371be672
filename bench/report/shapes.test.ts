import test from 'ava';
import { movesReportSchema, parseReport } from './shapes.js';

const report = {
  command: 'npm run bench:moves -- --json', date: '2026-12-02T05:27:47.894Z', node: 'v20.20.2', cpus: 2,
  loadAverage: { start: [1, 1, 1], end: [1, 1, 1] }, rate: 20000, loopbackMBps: 1100,
  moves: [{ flows: 1000, variant: 'loss-free', transfer: 'direct', puts: 'parallel', moveMs: 20, held: 3, p50Ms: 1, p99Ms: 2, bytes: 7, stateMBps: 1, movedFlows: 5, load: 1 }],
};

test('a saved report parses', (t) => {
  t.is(parseReport(movesReportSchema, JSON.stringify(report), 'm.json').moves[0].variant, 'loss-free');
});

test('a report that is not JSON, or has a wrong field, is refused naming the file and the field', (t) => {
  t.throws(() => parseReport(movesReportSchema, '> openmb@0.1.0 bench:moves\n{}', 'm.json'), { message: /^m\.json: not JSON \(.*\); it starts with npm's banner: save the output of npm run -s$/ });
  t.throws(() => parseReport(movesReportSchema, '{"moves": [', 'm.json'), { message: /^m\.json: not JSON \([^)]*\)$/ });
  const wrong = { ...report, moves: [{ ...report.moves[0], transfer: 'carrier pigeon' }] };
  t.throws(() => parseReport(movesReportSchema, JSON.stringify(wrong), 'm.json'), { message: /^m\.json: moves\.0\.transfer: / });
  t.throws(() => parseReport(movesReportSchema, JSON.stringify({ ...report, loopbackMBps: undefined }), 'm.json'), { message: /^m\.json: loopbackMBps: Required/ });
});
