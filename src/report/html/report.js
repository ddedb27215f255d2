// The report's only script: the graph explorer (pan and zoom, search, a service's blast radius
// and its paths to each link, a link's critical path). Plain JavaScript on the inline SVG from
// Graphviz and the JSON in #lp-data; nothing is loaded from anywhere. Without it the page still
// reads and prints as it is.
// Errors are kept for the browser test (tests/it/browser.rs) to read.
window.__lpErrors = [];
window.addEventListener('error', function (e) { window.__lpErrors.push(String(e.message)); });
(function () {
  'use strict';
  var d = document.documentElement.dataset;
  var dataEl = document.getElementById('lp-data');
  var data = dataEl ? JSON.parse(dataEl.textContent) : { services: {}, links: {} };
  var names = Object.keys(data.services).sort();

  // Reverse strong dependencies: who needs me (the paths from a link's entry down to me).
  var strongUp = {};
  names.forEach(function (n) {
    data.services[n].deps.forEach(function (dep) {
      if (dep[1] !== 'strong') return;
      (strongUp[dep[0]] = strongUp[dep[0]] || []).push(n);
    });
  });

  // Each figure: its nodes by <title> (a service name, `link:NAME`), and its edges by ends.
  var figures = [].slice.call(document.querySelectorAll('figure.graph')).map(function (fig) {
    var svg = fig.querySelector('svg');
    var nodes = {};
    [].forEach.call(svg.querySelectorAll('g.node'), function (g) {
      var t = g.querySelector('title');
      if (t) nodes[t.textContent] = g;
    });
    var edges = [];
    [].forEach.call(svg.querySelectorAll('g.edge'), function (g) {
      var t = g.querySelector('title');
      if (!t) return;
      var text = t.textContent;
      // `a->b`; names may hold `->`, so split where both sides are drawn nodes. An end at an
      // operation's port reads `a:e` or `a:op1:e` (Graphviz 2.43 writes the side only): the
      // node is `a`.
      var bare = function (s) { return nodes[s] ? s : s.replace(/(:op\d+)?(:[nsewc_]{1,2})?$/, ''); };
      var at = -1;
      while ((at = text.indexOf('->', at + 1)) >= 0) {
        var a = bare(text.slice(0, at)), b = bare(text.slice(at + 2));
        if (nodes[a] && nodes[b]) { edges.push({ g: g, from: a, to: b }); break; }
      }
    });
    return { fig: fig, svg: svg, nodes: nodes, edges: edges, view: null, base: null };
  });

  // Pan and zoom by the viewBox; the wheel zooms at the pointer, a drag pans.
  figures.forEach(function (f) {
    var vb = f.svg.viewBox.baseVal;
    if (!vb || !vb.width) return;
    f.base = [vb.x, vb.y, vb.width, vb.height];
    f.view = f.base.slice();
    f.svg.classList.add('lp-zoomable');
    var drag = null;
    f.svg.addEventListener('wheel', function (e) {
      e.preventDefault();
      var r = f.svg.getBoundingClientRect();
      zoom(f, e.deltaY < 0 ? 0.8 : 1.25, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
    }, { passive: false });
    f.svg.addEventListener('mousedown', function (e) {
      drag = { x: e.clientX, y: e.clientY, view: f.view.slice(), moved: false };
    });
    window.addEventListener('mousemove', function (e) {
      if (!drag) return;
      var r = f.svg.getBoundingClientRect();
      var dx = (e.clientX - drag.x) * f.view[2] / r.width, dy = (e.clientY - drag.y) * f.view[3] / r.height;
      if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3) drag.moved = true;
      if (drag.moved) set(f, [drag.view[0] - dx, drag.view[1] - dy, f.view[2], f.view[3]]);
    });
    window.addEventListener('mouseup', function () {
      if (drag && drag.moved) f.justDragged = true;
      drag = null;
    });
  });
  function set(f, v) { f.view = v; f.svg.setAttribute('viewBox', v.join(' ')); }
  function zoom(f, k, px, py) {
    if (!f.view) return;
    var v = f.view, w = v[2] * k, h = v[3] * k;
    set(f, [v[0] + (v[2] - w) * px, v[1] + (v[3] - h) * py, w, h]);
  }
  function centerOn(f, g) {
    if (!f.view || !g.getBBox) return;
    var b = g.getBBox();
    // Graphviz's graph group is translated; the node's box is in its coordinates.
    var root = f.svg.querySelector('g.graph');
    var m = root && root.transform.baseVal.consolidate();
    var tx = m ? m.matrix.e : 0, ty = m ? m.matrix.f : 0;
    var w = Math.min(f.view[2], f.base[2]), h = Math.min(f.view[3], f.base[3]);
    set(f, [b.x + tx + b.width / 2 - w / 2, b.y + ty + b.height / 2 - h / 2, w, h]);
  }

  // Highlighting: `lp-dim` on everything, then `lp-hit` (the service or link chosen),
  // `lp-blast` (what goes down with it), `lp-path` (its paths to each link / the critical path).
  var classes = ['lp-dim', 'lp-hit', 'lp-blast', 'lp-path'];
  function clear() {
    figures.forEach(function (f) {
      [].forEach.call(f.svg.querySelectorAll('.lp-dim,.lp-hit,.lp-blast,.lp-path'), function (el) {
        el.classList.remove.apply(el.classList, classes);
      });
    });
    [].forEach.call(document.querySelectorAll('.link.lp-hit,tr.lp-hit'), function (el) { el.classList.remove('lp-hit'); });
    d.selected = '';
    d.blast = '';
  }
  function paint(hit, blast, path) {
    figures.forEach(function (f) {
      Object.keys(f.nodes).forEach(function (k) {
        var g = f.nodes[k];
        var cls = hit[k] ? 'lp-hit' : blast[k] ? 'lp-blast' : path[k] ? 'lp-path' : 'lp-dim';
        g.classList.add(cls);
      });
      f.edges.forEach(function (e) {
        var on = (path[e.from] || hit[e.from]) && (path[e.to] || hit[e.to]);
        var down = (blast[e.from] || hit[e.from]) && (blast[e.to] || hit[e.to]);
        e.g.classList.add(on ? 'lp-path' : down ? 'lp-blast' : 'lp-dim');
      });
    });
  }
  var info = document.getElementById('lp-info');
  function say(text) { if (info) info.textContent = text; }

  function selectService(name, scroll) {
    var s = data.services[name];
    if (!s) return false;
    clear();
    var hit = {}, blast = {}, path = {};
    hit[name] = true;
    (s.blast || []).forEach(function (b) { blast[b] = true; });
    // Its paths to each link that needs it: the services of that link's critical path from
    // which it is reached through strong dependencies, and the link's node.
    var needing = [];
    Object.keys(data.links).forEach(function (l) {
      var link = data.links[l];
      if (link.critical.indexOf(name) < 0) return;
      needing.push(l);
      var inPath = {};
      link.critical.forEach(function (c) { inPath[c] = true; });
      var stack = [name], seen = {};
      seen[name] = true;
      while (stack.length) {
        var x = stack.pop();
        (strongUp[x] || []).forEach(function (u) {
          if (inPath[u] && !seen[u]) { seen[u] = true; path[u] = true; stack.push(u); }
        });
      }
      path['link:' + l] = true;
    });
    (s.blastLinks || []).forEach(function (l) { blast['link:' + l] = true; });
    paint(hit, blast, path);
    var row = document.querySelector('tr[data-service="' + cssEscape(name) + '"]');
    if (row) row.classList.add('lp-hit');
    var downs = s.blast ? s.blast.length : s.blastCount;
    say(name + ': takes down ' + (s.blastLinks.length ? 'links ' + s.blastLinks.join(', ') : 'no link') +
      ' and ' + downs + ' other service' + (downs === 1 ? '' : 's') +
      (needing.length ? ' · critical for ' + needing.join(', ') : ' · on no critical path') +
      (s.blast ? '' : ' (the list of services needs `analyze --blast full`)'));
    d.selected = name;
    d.blast = String((s.blast || []).length);
    if (scroll) {
      figures.forEach(function (f) { if (f.nodes[name]) centerOn(f, f.nodes[name]); });
    }
    return true;
  }

  function selectLink(name) {
    var link = data.links[name];
    if (!link) return;
    clear();
    var hit = {}, path = {};
    hit['link:' + name] = true;
    link.critical.forEach(function (c) { path[c] = true; });
    paint(hit, {}, path);
    [].forEach.call(document.querySelectorAll('.link[data-link]'), function (el) {
      if (el.dataset.link === name) el.classList.add('lp-hit');
    });
    say('link ' + name + ': ' + link.critical.length + ' services on its critical path, ' +
      link.spofs.length + ' service SPOF' + (link.spofs.length === 1 ? '' : 's') +
      (link.spofs.length ? ' (' + link.spofs.join(', ') + ')' : ''));
    d.selected = 'link:' + name;
  }

  function cssEscape(s) { return s.replace(/["\\]/g, '\\$&'); }

  figures.forEach(function (f) {
    Object.keys(f.nodes).forEach(function (k) {
      f.nodes[k].addEventListener('click', function (e) {
        if (f.justDragged) { f.justDragged = false; return; }
        e.stopPropagation();
        if (k.indexOf('link:') === 0 && data.links[k.slice(5)]) selectLink(k.slice(5));
        else selectService(k, false);
      });
    });
  });
  [].forEach.call(document.querySelectorAll('.link[data-link]'), function (el) {
    el.addEventListener('click', function () { selectLink(el.dataset.link); });
  });

  var search = document.getElementById('lp-search');
  var list = document.getElementById('lp-names');
  if (list) {
    names.forEach(function (n) { var o = document.createElement('option'); o.value = n; list.appendChild(o); });
  }
  function find(q) {
    q = q.trim().toLowerCase();
    if (!q) return null;
    if (data.services[q]) return q;
    var exact = names.filter(function (n) { return n.toLowerCase() === q; });
    if (exact.length) return exact[0];
    var part = names.filter(function (n) { return n.toLowerCase().indexOf(q) >= 0; });
    return part.length ? part[0] : null;
  }
  if (search) {
    var go = function () {
      var n = find(search.value);
      if (n) selectService(n, true); else if (search.value.trim()) say('no service matches “' + search.value.trim() + '”');
    };
    search.addEventListener('change', go);
    search.addEventListener('keydown', function (e) { if (e.key === 'Enter') go(); });
  }
  function on(id, fn) { var b = document.getElementById(id); if (b) b.addEventListener('click', fn); }
  var main = figures[0] || {};
  on('lp-zoom-in', function () { zoom(main, 0.8, 0.5, 0.5); });
  on('lp-zoom-out', function () { zoom(main, 1.25, 0.5, 0.5); });
  on('lp-reset', function () {
    clear();
    figures.forEach(function (f) { if (f.base) set(f, f.base.slice()); });
    say('');
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') clear(); });

  // What a headless browser test reads: that the script ran, the graph's size, the SPOFs.
  var g = document.querySelector('figure.graph svg');
  if (g) {
    var r = g.getBoundingClientRect();
    d.graph = Math.round(r.width) + 'x' + Math.round(r.height);
  } else {
    d.graph = 'none';
  }
  d.spofs = String(document.querySelectorAll('#spofs li').length);
  d.rendered = 'ok';
})();
