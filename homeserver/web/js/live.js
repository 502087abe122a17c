// The live stream: one WebSocket on this device's cursor (`GET /api/v1/ws`, authenticated by the
// session cookie and its Origin). The server starts at the cursor it holds for the device, so a
// reconnect replays everything not yet acknowledged; log events already handled (seq <= the
// highest seen) are dropped, so nothing is shown twice. What has been handled is acknowledged
// with an `ack` frame. Reconnects back off from 0.5 s to 30 s with jitter.

export class Live {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.seen = 0; // highest log seq handled
    this.acked = 0;
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.timer = null;
    this.ackTimer = null;
    this.online = () => this.connectSoon(0);
    window.addEventListener('online', this.online);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.online);
    clearTimeout(this.timer);
    clearTimeout(this.ackTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  connect() {
    if (this.stopped) return;
    this.onState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ws`);
    this.ws = ws;
    ws.onmessage = (m) => {
      let frame;
      try {
        frame = JSON.parse(m.data);
      } catch {
        return;
      }
      if (frame.type === 'ready') {
        this.attempt = 0;
        this.onState('connected');
      } else if (frame.type === 'event' && frame.event) {
        const e = frame.event;
        if (e.seq > 0) {
          if (e.seq <= this.seen) return; // replayed after a reconnect: handled already
          this.seen = e.seq;
        }
        this.onEvent(e);
        if (e.seq > 0) this.scheduleAck();
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (ev.code === 4401) {
        this.onState('offline');
        this.onEvent({ type: '__unauthorized' });
        return;
      }
      this.onState(navigator.onLine === false ? 'offline' : 'connecting');
      this.attempt += 1;
      const base = Math.min(30000, 500 * 2 ** Math.min(this.attempt, 6));
      this.connectSoon(base / 2 + Math.random() * (base / 2));
      if (this.attempt > 2) this.onState('offline');
    };
  }

  connectSoon(ms) {
    clearTimeout(this.timer);
    if (this.ws && this.ws.readyState <= 1) return;
    this.timer = setTimeout(() => this.connect(), ms);
  }

  scheduleAck() {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.seen > this.acked && this.ws && this.ws.readyState === 1) {
        this.ws.send(JSON.stringify({ type: 'ack', seq: this.seen }));
        this.acked = this.seen;
      }
    }, 250);
  }

  typing(target, typing) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: 'typing', target, typing }));
  }
}
