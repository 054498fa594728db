// The seed tutorial's producer/consumer ("baozi") coroutines, written with
// greenlets instead of Python generators: each consumer suspends in
// switch() until the producer hands it the next item.
//
//   node examples/greenlet-producer-consumer.mjs [--items 5]
import { parseArgs } from 'node:util';
import { Greenlet, getcurrent } from 'looplet';

const { values } = parseArgs({ options: { items: { type: 'string', default: '5' } } });
const producer = getcurrent();

function consumer(name) {
  return new Greenlet(() => {
    console.log(`---> ${name} starting eating baozi...`);
    for (;;) {
      const baozi = producer.switch(); // like `new_baozi = yield`
      console.log(`[${name}] is eating baozi ${baozi}`);
    }
  });
}

const c1 = consumer('c1');
const c2 = consumer('c2');
c1.switch(); // like con1.__next__(): run to the first yield
c2.switch();
for (let n = 1; n <= Number(values.items); n++) {
  console.log(`[producer] is making baozi ${n}`);
  c1.switch(n); // like con1.send(n)
  c2.switch(n);
}
c1.kill();
c2.kill();
