/** Time series panels (Grafana `timeseries` and legacy `graph`): being built. */
import { message } from '../lib/dom';
import { register } from './registry';

register(['timeseries', 'graph'], (el) => {
  el.replaceChildren(message('empty', 'No data'));
  return { update: () => {}, resize: () => {}, destroy: () => el.replaceChildren() };
});
