/** Heatmap panels from Prometheus histogram buckets: being built. */
import { message } from '../lib/dom';
import { register } from './registry';

register(['heatmap'], (el) => {
  el.replaceChildren(message('empty', 'No data'));
  return { update: () => {}, resize: () => {}, destroy: () => el.replaceChildren() };
});
