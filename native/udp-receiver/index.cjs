'use strict';
// The compiled addon; requiring it throws when `npm ci` could not build it (src/collect/udp-receiver.ts
// then falls back to node:dgram and says why).
module.exports = require('./build/Release/udp_receiver.node');
