/*
 * Stethoscope page core: sessions, navigation between panels, polling, and
 * safe DOM helpers. Everything that comes from records (layer names, messages,
 * labels) is inserted with textContent, never as HTML.
 */
(function () {
  'use strict';
  var panels = [];      // registered by the panel scripts, in the order of the monitors
  var monitors = [];    // /stethoscope/api/monitors: id, title, order, recordTypes, script
  var state = { session: null, panel: null, timer: null, active: null };
  var POLL_MS = 2000;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'class') { e.className = attrs[k]; }
        else if (k === 'style') { e.setAttribute('style', attrs[k]); }
        else { e.setAttribute(k, attrs[k]); }
      });
    }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) { throw new Error(url + ' answered ' + r.status); }
      return r.json();
    });
  }

  function enc(s) { return encodeURIComponent(s); }

  /**
   * Every record of typeId after `after`, read page by page: the server returns
   * at most its cap per response and says so in X-Stethoscope-Truncated.
   */
  function recordsFrom(session, typeId, after, acc) {
    var url = '/stethoscope/api/records/' + enc(session) + '/' + enc(typeId) + '?after=' + (after == null ? -1 : after);
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) { throw new Error(url + ' answered ' + r.status); }
      var more = r.headers.get('X-Stethoscope-Truncated') === 'true';
      return r.json().then(function (page) {
        Array.prototype.push.apply(acc, page);
        if (more && page.length) {
          return recordsFrom(session, typeId, page[page.length - 1].timestamp, acc);
        }
        return acc;
      });
    });
  }

  /**
   * Records of typeId that arrived after the first `cursor` ones, in arrival order, read
   * page by page: resolves to {records, cursor} with the cursor to ask with next. Following
   * by arrival, not by timestamp, keeps records stored late with an older timestamp (a
   * Spark worker's batch, a lagging remote clock). A cursor the server no longer knows
   * (a storage was detached) answers with cursor 0 and no records: read again from 0.
   */
  function recordsSince(session, typeId, cursor, acc) {
    return pagesSince(function (c) {
      return '/stethoscope/api/records/' + enc(session) + '/' + enc(typeId) + '?cursor=' + c;
    }, cursor, acc);
  }

  /**
   * The same for any route that pages by arrival cursor (X-Stethoscope-Cursor, X-Stethoscope-Truncated), such as a
   * monitor's compact route: urlOf(cursor) is the URL of the page after the first `cursor` items.
   */
  function pagesSince(urlOf, cursor, acc) {
    var url = urlOf(cursor);
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      if (!r.ok) { throw new Error(url + ' answered ' + r.status); }
      var more = r.headers.get('X-Stethoscope-Truncated') === 'true';
      var next = parseInt(r.headers.get('X-Stethoscope-Cursor'), 10);
      return r.json().then(function (page) {
        Array.prototype.push.apply(acc, page);
        if (more && page.length && next > cursor) {
          return pagesSince(urlOf, next, acc);
        }
        return { records: acc, cursor: isNaN(next) ? cursor : next, reset: next < cursor };
      });
    });
  }

  /**
   * A state-changing request (POST): carries the header the server requires of
   * them (a cross-site page cannot set it without the server's consent).
   */
  function post(url) {
    return fetch(url, { method: 'POST', cache: 'no-store', headers: { 'X-Stethoscope-Request': '1' } });
  }

  /** A per-panel API bound to the current session and the panel's monitor type. */
  function makeApi(session, container, monitor) {
    var pollers = [];
    var charts = [];
    var observers = [];
    var recordTypes = (monitor && monitor.recordTypes) || [];
    var api = {
      session: session,
      el: el,
      /** The panel's monitor type as the server declares it (id, title, recordTypes, script). */
      monitor: monitor,
      /** The type ids of the monitor's records, in its declaration order. */
      types: recordTypes.map(function (t) { return t.typeId; }),
      /**
       * The type id of another monitor's record (monitor id, payload name, e.g. 'assertions',
       * 'AssertionFinding'), or null when no such monitor type is loaded.
       */
      typeOf: function (monitorId, payload) { return typeOf(monitorId, payload); },
      /** The type id of the monitor's record whose payload is named `payload` (e.g. 'Health'). */
      type: function (payload) {
        var t = recordTypes.filter(function (x) { return x.payload === payload; })[0];
        if (!t) { throw new Error('monitor ' + (monitor && monitor.id) + ' declares no record ' + payload); }
        return t.typeId;
      },
      /** All records of typeId after timestamp `after` (exclusive). */
      records: function (typeId, after) {
        return recordsFrom(session, typeId, after, []);
      },
      /**
       * Everything a route paged by arrival cursor has after the first `cursor` items (urlOf(c): the URL of the page
       * after the first c): resolves to {records, cursor, reset}; ask next with `cursor`, which is 0 after a reset.
       */
      since: function (urlOf, cursor) {
        return pagesSince(urlOf, cursor, []);
      },
      /** Static infos (one per worker) of typeId: monitor settings, layer names. */
      staticInfo: function (typeId) {
        return getJson('/stethoscope/api/static/' + enc(session) + '/' + enc(typeId));
      },
      getJson: getJson,
      /** POSTs to a Stethoscope route (with the request header the server requires). */
      post: post,
      /** Calls fn now and every poll interval while the panel is shown. */
      poll: function (fn) { pollers.push(fn); fn(); },
      /**
       * Incremental reader: keeps every record of typeId seen so far and calls
       * onChange(allRecords, newRecords) when new ones arrive.
       */
      follow: function (typeId, onChange) {
        var all = [], cursor = 0;
        api.poll(function () {
          return recordsSince(session, typeId, cursor, []).then(function (got) {
            var recs = got.records;
            if (got.reset) { // the server's cursors started over: read everything again
              all.length = 0;
              cursor = 0;
              return;
            }
            cursor = got.cursor;
            if (recs.length) {
              Array.prototype.push.apply(all, recs);
              // arrival order is not time order (late batches): keep `all` by time for the panels
              all.sort(function (a, b) { return a.timestamp - b.timestamp; });
              onChange(all, recs);
            } else if (!all.length) {
              onChange(all, recs);
            }
          }).catch(function (e) { setStatus('error: ' + e.message); });
        });
      },
      /**
       * An ECharts instance on `node`, resized whenever the node's size changes: a chart is sized when it is made,
       * and its card can change width afterwards (more cards added to the same grid, a scrollbar appearing).
       */
      chart: function (node) {
        var c = echarts.init(node);
        charts.push(c);
        if (window.ResizeObserver) {
          var ro = new ResizeObserver(function () { if (!c.isDisposed()) { c.resize(); } });
          ro.observe(node);
          observers.push(ro);
        }
        return c;
      },
      /**
       * The epoch of a record as the page numbers epochs: from 1, like the sample's log and the snapshot epochs of
       * the probes, similarity and feature panels. A record's header carries DL4J's 0-based epoch counter (the
       * epoch in progress, or at an epoch-end analysis the epoch that just ended).
       */
      epochNumber: function (r) { return r.epoch + 1; },
      empty: function (node, text) {
        node.textContent = '';
        node.appendChild(el('div', { 'class': 'empty' }, text));
      },
      settingsLine: function (node, infos) {
        if (!infos || !infos.length) { return; }
        var s = infos[0].settings || {};
        var parts = Object.keys(s).map(function (k) { return k + ' = ' + s[k]; });
        node.appendChild(el('div', { 'class': 'settings' }, 'Settings: ' + parts.join(', ')));
      },
      _tick: function () { pollers.forEach(function (fn) { try { fn(); } catch (e) { console.error(e); } }); },
      _dispose: function () {
        observers.forEach(function (o) { o.disconnect(); });
        charts.forEach(function (c) { c.dispose(); });
        pollers = [];
      }
    };
    window.addEventListener('resize', function () { charts.forEach(function (c) { c.resize(); }); });
    return api;
  }

  function setStatus(text) {
    var s = document.getElementById('status');
    if (s) { s.textContent = text; }
  }

  /*
   * The page header's assertion summary, from the assertions monitor's records (AssertionFinding):
   * hidden when the monitor was not attached to the session (no static info of its record type),
   * "healthy" when it was and nothing fired, else "n assertions fired" (ERROR in red), linking to
   * the Assertions panel.
   */
  /** The type id of monitor `monitorId`'s record with payload `payload`, from /stethoscope/api/monitors; null if none. */
  function typeOf(monitorId, payload) {
    var m = monitors.filter(function (x) { return x.id === monitorId; })[0];
    var t = m && (m.recordTypes || []).filter(function (x) { return x.payload === payload; })[0];
    return t ? t.typeId : null;
  }

  var summary = { session: null, cursor: 0, fired: {}, errors: {}, attached: false, busy: false };

  function refreshAssertionSummary() {
    var a = document.getElementById('assertion-summary');
    var ASSERTION_TYPE = typeOf('assertions', 'AssertionFinding');
    if (!a || !ASSERTION_TYPE) { if (a) { a.hidden = true; } return; }
    if (!state.session) { a.hidden = true; return; }
    if (summary.session !== state.session) {
      summary = { session: state.session, cursor: 0, fired: {}, errors: {}, attached: false, busy: false };
      a.hidden = true;
    }
    var st = summary;
    if (st.busy) { return; }
    st.busy = true;
    var attached = st.attached ? Promise.resolve(true) :
      getJson('/stethoscope/api/static/' + enc(st.session) + '/' + enc(ASSERTION_TYPE)).then(function (infos) { return infos.length > 0; });
    attached.then(function (yes) {
      if (!yes) { return null; }
      st.attached = true;
      // by arrival cursor, as api.follow: a finding stored late with an older timestamp (a Spark worker's) counts too
      return recordsSince(st.session, ASSERTION_TYPE, st.cursor, []).then(function (got) {
        got.records.forEach(function (r) {
          st.fired[r.detector] = true;
          if (r.severity === 'ERROR') { st.errors[r.detector] = true; }
        });
        st.cursor = got.cursor; // 0 when the server's cursors started over: read again (the sets keep their keys)
      });
    }).then(function () {
      if (st !== summary || !st.attached) { return; }
      var ids = Object.keys(st.fired), errors = Object.keys(st.errors);
      a.hidden = false;
      if (!ids.length) {
        a.textContent = 'healthy';
        a.className = 'assertion-summary healthy';
        a.title = 'The assertions monitor is attached and no assertion has fired';
      } else {
        a.textContent = ids.length + ' assertion' + (ids.length === 1 ? '' : 's') + ' fired' +
          (errors.length ? ' (' + errors.length + ' ERROR)' : '');
        a.className = 'assertion-summary ' + (errors.length ? 'firing-error' : 'firing');
        a.title = ids.join(', ');
      }
    }).catch(function () { }).then(function () { st.busy = false; });
  }

  function renderNav() {
    var nav = document.getElementById('nav');
    nav.textContent = '';
    panels.forEach(function (p) {
      var b = el('button', { 'data-panel': p.id, id: 'nav-' + p.id }, p.title);
      if (state.panel === p.id) { b.className = 'active'; }
      b.addEventListener('click', function () { show(p.id); });
      nav.appendChild(b);
    });
  }

  function show(id) {
    state.panel = id;
    if (location.hash !== '#' + id) { history.replaceState(null, '', '#' + id); }
    renderNav();
    var main = document.getElementById('main');
    if (state.active) { state.active._dispose(); state.active = null; }
    main.textContent = '';
    var p = panels.filter(function (x) { return x.id === id; })[0];
    if (!p) { return; }
    if (!state.session) {
      main.appendChild(el('div', { 'class': 'empty', id: 'no-session' },
        'No Stethoscope records yet. Attach a Stethoscope listener to your network and start training; ' +
        'this page updates by itself when the first record arrives.'));
      return;
    }
    var container = el('section', { id: 'panel-' + p.id });
    main.appendChild(container);
    container.appendChild(el('h2', null, p.title));
    var body = el('div');
    container.appendChild(body);
    state.active = makeApi(state.session, body, p.monitor);
    if (p.failed) { body.appendChild(el('pre', { 'class': 'panel-failed' }, p.failed)); return; }
    try { p.render(body, state.active); } catch (e) { body.appendChild(el('pre', null, String(e))); }
  }

  function refreshSessions() {
    return getJson('/stethoscope/api/sessions').then(function (sessions) {
      var sel = document.getElementById('session');
      var known = Array.prototype.map.call(sel.options, function (o) { return o.value; });
      var ids = sessions.map(function (s) { return s.sessionId; });
      if (known.join('\n') !== ids.join('\n')) {
        sel.textContent = '';
        sessions.forEach(function (s) { sel.appendChild(el('option', { value: s.sessionId }, s.sessionId)); });
      }
      var newest = sessions.slice().sort(function (a, b) { return b.lastUpdate - a.lastUpdate; })[0];
      if (!state.session && newest) {
        state.session = newest.sessionId;
        sel.value = state.session;
        show(state.panel);
      } else if (state.session) {
        sel.value = state.session;
      }
      var cur = sessions.filter(function (s) { return s.sessionId === state.session; })[0];
      setStatus(cur && cur.lastUpdate ? 'last record ' + new Date(cur.lastUpdate).toLocaleTimeString() : 'waiting for records');
      refreshAssertionSummary();
      document.dispatchEvent(new CustomEvent('stethoscope:sessions', { detail: sessions }));
    }).catch(function (e) { setStatus('cannot reach the UI server: ' + e.message); });
  }

  /** Loads a panel script; resolves either way (a failed panel shows its failure, the others work). */
  function loadScript(url) {
    return new Promise(function (resolve) {
      var s = document.createElement('script');
      s.src = url;
      s.onload = function () { resolve(null); };
      s.onerror = function () { resolve('could not load ' + url); };
      document.head.appendChild(s);
    });
  }

  /**
   * Loads the panel script of every monitor type the server declares, in navigation order, and
   * orders the registered panels like the monitors (title from the monitor type).
   */
  function loadPanels() {
    var registered = {};
    var failures = {};
    var chain = Promise.resolve();
    monitors.forEach(function (m) {
      if (!m.script) { return; }
      chain = chain.then(function () {
        var before = panels.length;
        return loadScript(m.script).then(function (failure) {
          panels.slice(before).forEach(function (p) { registered[p.id] = p; });
          if (failure) { failures[m.id] = failure; }
        });
      });
    });
    return chain.then(function () {
      var ordered = [];
      monitors.forEach(function (m) {
        if (!m.script) { return; }
        var p = registered[m.id];
        if (!p) {
          p = { id: m.id, failed: failures[m.id] || ('the panel script of monitor ' + m.id + ' registered no panel with id ' + m.id) };
        }
        p.monitor = m;
        p.title = m.title;
        ordered.push(p);
      });
      panels = ordered;
    });
  }

  window.Stethoscope = {
    /** Registers a panel: {id (the monitor type's id), render(element, api)}; its title comes from the monitor type. */
    registerPanel: function (p) { panels.push(p); },
    el: el,
    /** Fetches the monitor types, loads their panel scripts, then starts the page. */
    boot: function () {
      getJson('/stethoscope/api/monitors').then(function (ms) {
        monitors = ms;
        return loadPanels();
      }).catch(function (e) {
        setStatus('cannot read the monitor list: ' + e.message);
      }).then(start);
    }
  };

  /** Builds the navigation, shows the wanted panel and starts polling. */
  function start() {
    var wanted = (location.hash || '').replace('#', '');
    state.panel = panels.some(function (p) { return p.id === wanted; }) ? wanted : (panels[0] && panels[0].id);
    document.getElementById('session').addEventListener('change', function (e) {
      state.session = e.target.value;
      show(state.panel);
      refreshAssertionSummary();
    });
    document.getElementById('assertion-summary').addEventListener('click', function (e) {
      if (panels.some(function (p) { return p.id === 'assertions'; })) {
        e.preventDefault();
        show('assertions');
      }
    });
    renderNav();
    show(state.panel);
    refreshSessions();
    state.timer = setInterval(function () {
      refreshSessions();
      if (state.active) { state.active._tick(); }
    }, POLL_MS);
  }
})();
