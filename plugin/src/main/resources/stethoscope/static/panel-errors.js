/* Exceptions raised inside monitors (MonitorError). Training went on. */
Stethoscope.registerPanel({
  id: 'errors',
  render: function (root, api) {
    var el = api.el;
    var list = el('div', { id: 'errors-list' });
    root.appendChild(el('p', { 'class': 'muted' },
      'Exceptions inside Stethoscope monitors are logged and shown here; training goes on unless the monitor was built with failFast(true). A failure that repeats is recorded at its 1st, 2nd, 4th, 8th, ... occurrence.'));
    root.appendChild(list);
    api.follow(api.types[0], function (all) {
      list.textContent = '';
      if (!all.length) { api.empty(list, 'No monitor errors.'); return; }
      var table = el('table');
      var head = el('tr');
      ['time', 'epoch', 'iteration', 'monitor', 'phase', 'times so far', 'exception', 'message'].forEach(function (h) { head.appendChild(el('th', null, h)); });
      table.appendChild(head);
      all.slice().reverse().slice(0, 500).forEach(function (r) {
        var tr = el('tr', { 'class': 'error-row' });
        tr.appendChild(el('td', null, new Date(r.timestamp).toLocaleTimeString()));
        tr.appendChild(el('td', null, api.epochNumber(r)));
        tr.appendChild(el('td', null, r.iteration));
        tr.appendChild(el('td', null, r.monitor));
        tr.appendChild(el('td', null, r.phase));
        tr.appendChild(el('td', null, r.count || 1));
        tr.appendChild(el('td', null, r.exceptionClass));
        var msg = el('td');
        var d = el('details');
        d.appendChild(el('summary', null, r.message));
        d.appendChild(el('pre', null, r.stackTrace));
        msg.appendChild(d);
        tr.appendChild(msg);
        table.appendChild(tr);
      });
      list.appendChild(el('p', null, all.length + ' error record(s)' + (all.length > 500 ? ', newest 500 shown' : '')));
      list.appendChild(table);
    });
  }
});
