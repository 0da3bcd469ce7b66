/**
 * Loads every panel renderer so each registers itself with the registry (`register()` in
 * registry.ts). The dashboard page and Explore import this module once; a panel type not
 * registered here gets the registry's "Unsupported panel type" placeholder.
 */
import './timeseries';
import './heatmap';
import './stat';
import './gauge';
import './bargauge';
import './table';
import './text';
import './logs';
import './piechart';
import './statetimeline';
import './lists';
import './barchart';
import './histogram';
import './xychart';
import './tracespanel';
import './nodegraph';
import './candlestick';
import './tablefallback';
