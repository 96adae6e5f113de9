import { DropReason, dropNewest, dropOldest, sample, shedByPriority, type SheddingStage } from '../../lib/stages';
import { pipeline, Readable } from '../../lib/util/stream-classes';
import { FakePressure, ManualSink, recordDrops, settle } from '../helpers/stage-helpers';

const makers: [string, () => SheddingStage<number>][] = [
  ['dropOldest', () => dropOldest<number>({ capacity: 10 })],
  ['dropNewest', () => dropNewest<number>({ capacity: 10 })],
  ['sample', () => sample<number>({ capacity: 10, pressure: new FakePressure('normal') })],
  [
    'shedByPriority',
    () => shedByPriority<number>({ capacity: 10, priority: () => 1, pressure: new FakePressure('normal') }),
  ],
];

describe.each(makers)('%s', (_name, make) => {
  test('destroy() reports every held item as dropped "destroyed", including one waiting in the readable side', async () => {
    const stage = make();
    const sink = new ManualSink<number>();
    const drops = recordDrops(stage);
    stage.pipe(sink.stream);
    await settle();
    for (let i = 0; i < 8; i++) stage.write(i);
    sink.release(1); // the pipe resumes and one item moves to the readable side
    await settle();
    const before = stage.getMetrics();
    expect(before.held).toBe(6); // 0 and 1 reached the sink
    stage.destroy();
    await new Promise((resolve) => stage.on('close', resolve));
    const m = stage.getMetrics();
    expect(m).toMatchObject({ written: 8, passed: 2, dropped: 6, held: 0 });
    expect(m.droppedByReason[DropReason.DESTROYED]).toBe(6);
    expect(drops.map((d) => d.item)).toEqual([2, 3, 4, 5, 6, 7]); // in order, none lost, none twice
    expect(drops.every((d) => d.balanced && d.reason === DropReason.DESTROYED)).toBe(true);
    expect(sink.received).toEqual([0, 1]);
  });

  test('an error downstream in pipeline() destroys the stage, which accounts what it held', async () => {
    const stage = make();
    const drops = recordDrops(stage);
    const failure = new Error('sink failed');
    const source = Readable.from([0, 1, 2, 3, 4, 5]);
    const sink = new ManualSink<number>();
    const result = new Promise<Error | null | undefined>((resolve) => pipeline(source, stage, sink.stream, resolve));
    await settle(10);
    sink.stream.destroy(failure);
    expect(await result).toBe(failure);
    expect(stage.destroyed).toBe(true);
    const m = stage.getMetrics();
    expect(m.written).toBe(m.passed + m.dropped);
    expect(m.held).toBe(0);
    expect(drops.every((d) => d.reason === DropReason.DESTROYED)).toBe(true);
  });

  test('an error upstream in pipeline() reaches the stage and the sink', async () => {
    const stage = make();
    const failure = new Error('source failed');
    const source = new Readable({
      objectMode: true,
      read() {
        this.destroy(failure);
      },
    });
    const sink = new ManualSink<number>();
    const result = new Promise<Error | null | undefined>((resolve) => pipeline(source, stage, sink.stream, resolve));
    expect(await result).toBe(failure);
    expect(stage.destroyed).toBe(true);
    expect(sink.stream.destroyed).toBe(true);
  });
});
