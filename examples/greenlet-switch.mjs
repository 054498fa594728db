// The seed tutorial's first greenlet program: two greenlets hand control to
// each other explicitly, so the output interleaves 12, 56, 34, 78.
//
//   node examples/greenlet-switch.mjs
import { Greenlet } from 'looplet';

const gr1 = new Greenlet(() => {
  console.log(12);
  gr2.switch();
  console.log(34);
  gr2.switch();
});
const gr2 = new Greenlet(() => {
  console.log(56);
  gr1.switch();
  console.log(78);
});
gr1.switch();
