// Producers and consumers on a hub Queue, after the seed tutorials:
//   1. one producer puts five items and a None sentinel; one consumer gets
//      until the sentinel (the multiprocessing example, as jobs);
//   2. four producers, two consumers, one sentinel per consumer;
//   3. the baozi producer/consumer, with jobs and a queue per consumer
//      instead of generators.
//
//   node examples/hub-producer-consumer.mjs [--items 4] [--sleep-ms 5]
import { parseArgs } from 'node:util';
import { Queue, joinall, run, sleep, spawn } from 'looplet';

const { values } = parseArgs({ options: { items: { type: 'string', default: '4' }, 'sleep-ms': { type: 'string', default: '5' } } });
const items = Number(values.items);
const pause = Number(values['sleep-ms']);

await run(() => {
  // 1. Sentinel.
  const q = new Queue(10);
  const producer = spawn(() => {
    for (let i = 0; i < 5; i++) q.put(`item ${i}`);
    q.put(null);
  });
  const consumer = spawn(() => {
    for (;;) {
      const item = q.get();
      console.log(`consumer got ${item}`);
      if (item === null) break;
    }
  });
  joinall([producer, consumer]);

  // 2. Several producers and consumers on a bounded queue.
  const shared = new Queue(20);
  const eaten = [];
  const make = (name, food) => () => {
    for (let i = 0; i < items; i++) {
      shared.put(`${name} made ${food} #${i}`);
      sleep(pause);
    }
  };
  const eat = (name) => () => {
    for (let item = shared.get(); item !== null; item = shared.get()) eaten.push(`${name} eats: ${item}`);
  };
  const producers = [
    spawn(make('kevin', 'baozi')),
    spawn(make('jason', 'soy milk')),
    spawn(make('tank', 'bread')),
    spawn(make('oscar', 'douzhi')),
  ];
  const consumers = [spawn(eat('c1')), spawn(eat('c2'))];
  joinall(producers);
  for (let i = 0; i < consumers.length; i++) shared.put(null); // one sentinel per consumer
  joinall(consumers);
  for (const line of eaten.sort()) console.log(line);
  console.log(`${eaten.length} items eaten by ${consumers.length} consumers`);

  // 3. Baozi: the producer hands each baozi to both consumers.
  const plates = { c1: new Queue(1), c2: new Queue(1) };
  const diner = (name) => () => {
    console.log(`---> ${name} starting eating baozi...`);
    for (let baozi = plates[name].get(); baozi !== null; baozi = plates[name].get()) console.log(`[${name}] is eating baozi ${baozi}`);
  };
  const diners = [spawn(diner('c1')), spawn(diner('c2'))];
  sleep(0); // let both diners print their greeting first
  for (let n = 1; n <= 5; n++) {
    console.log(`[producer] is making baozi ${n}`);
    plates.c1.put(n);
    plates.c2.put(n);
    sleep(0);
  }
  plates.c1.put(null);
  plates.c2.put(null);
  joinall(diners);
});
