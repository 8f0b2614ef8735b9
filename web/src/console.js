// Intake console: integrations, campaigns and their sources (triggers),
// test syncs, run history, pushbacks and the do-not-call list, all through
// the public GraphQL API at /graphql with the API key typed into the page.
// Plain DOM code: the page is served under a Content-Security-Policy
// without inline scripts or eval, and text from the API is only ever set as
// text (never parsed as HTML).
'use strict';

(() => {
  const storageKey = 'intake.apiKey';
  const $main = document.getElementById('main');
  let apiKey = sessionStorage.getItem(storageKey) || '';
  // Subscriptions of the current view, closed when the view changes.
  let closers = [];

  // ---- DOM -------------------------------------------------------------

  // h builds an element: h('button', {type: 'button', onclick: f}, 'Save').
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    return append(el, ...children);
  }

  function append(el, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  let uid = 0;
  const nextID = (p) => `${p}-${++uid}`;

  function badge(text) {
    return h('span', { class: `badge ${text}` }, text);
  }

  function when(t) {
    if (!t) return '–';
    const d = new Date(t);
    return isNaN(d) ? t : d.toLocaleString();
  }

  // field wraps a control with its label, an optional description and a
  // place for an error; path is the input path the server names in
  // extensions.field.
  function field(label, control, { help, required, path } = {}) {
    control.id = control.id || nextID('f');
    const wrap = h('div', { class: 'field', dataset: path ? { field: path } : {} },
      h('label', { for: control.id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
      control);
    if (required) control.required = true;
    if (help) {
      const p = h('p', { class: 'help', id: nextID('help') }, help);
      control.setAttribute('aria-describedby', p.id);
      wrap.append(p);
    }
    return wrap;
  }

  function switchControl(label, checked, { path, onchange, help } = {}) {
    const input = h('input', { type: 'checkbox', role: 'switch', id: nextID('sw'), checked: !!checked, onchange });
    const wrap = h('div', { dataset: path ? { field: path } : {} },
      h('label', { class: 'switch', for: input.id }, input, label));
    if (help) {
      const p = h('p', { class: 'help', id: nextID('help') }, help);
      input.setAttribute('aria-describedby', p.id);
      wrap.append(p);
    }
    wrap.input = input;
    return wrap;
  }

  // ---- GraphQL ---------------------------------------------------------

  class APIError extends Error {
    constructor(errors) {
      super(errors.map((e) => e.message).join('; '));
      this.errors = errors;
    }
  }

  async function gql(query, variables) {
    let res;
    try {
      res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: apiKey ? `Bearer ${apiKey}` : '' },
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new APIError([{ message: `the server cannot be reached (${e.message})` }]);
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new APIError([{ message: `HTTP ${res.status}: not a GraphQL answer` }]);
    }
    if (body.errors && body.errors.length) throw new APIError(body.errors);
    return body.data;
  }

  // subscribe runs one subscription over its own websocket
  // (graphql-transport-ws; the key travels in connection_init). onNext gets
  // each result's data; onEnd gets null when the server completed it, or
  // the errors that ended it; onStarted, if given, is called once the
  // subscription is sent on an acknowledged connection. It returns a
  // function that stops it.
  function subscribe(query, variables, onNext, onEnd, onStarted) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    let ended = false;
    const end = (errs) => {
      if (ended) return;
      ended = true;
      if (ws.readyState <= 1) ws.close(1000);
      onEnd(errs);
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${apiKey}` } }));
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      switch (m.type) {
        case 'connection_ack':
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
          if (onStarted) onStarted();
          break;
        case 'ping':
          ws.send(JSON.stringify({ type: 'pong' }));
          break;
        case 'next':
          if (m.payload.errors && m.payload.errors.length) end(m.payload.errors);
          else onNext(m.payload.data);
          break;
        case 'error':
          end(m.payload);
          break;
        case 'complete':
          end(null);
          break;
      }
    };
    ws.onclose = (ev) => end([{ message: `the websocket closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` }]);
    const stop = () => {
      ended = true;
      if (ws.readyState <= 1) ws.close(1000);
    };
    closers.push(stop);
    return stop;
  }

  // showErrors puts each error at the control its extensions.field names
  // (the longest input path that has one: input.references[2].kind is
  // shown at input.references), and the others in the form's summary.
  function showErrors(form, errors) {
    clearErrors(form);
    const summary = form.querySelector('.errors');
    const items = [];
    for (const e of errors) {
      const path = (e.extensions && e.extensions.field) || '';
      const code = (e.extensions && e.extensions.code) || '';
      const target = targetFor(form, path);
      if (target) {
        const msg = h('p', { class: 'field-error', id: nextID('err'), role: 'alert' }, e.message);
        target.append(msg);
        const control = target.querySelector('input, select, textarea, [role=listbox], button');
        if (control) {
          control.setAttribute('aria-invalid', 'true');
          const by = control.getAttribute('aria-describedby');
          control.setAttribute('aria-describedby', by ? `${by} ${msg.id}` : msg.id);
        }
      }
      items.push(h('li', {}, code ? `${code}${path ? ` (${path})` : ''}: ` : '', e.message));
    }
    if (summary && items.length) {
      append(summary, h('strong', {}, 'Not saved:'), h('ul', {}, items));
    }
    const first = form.querySelector('[aria-invalid=true]');
    if (first) first.focus();
  }

  // targetFor finds the element of path, or of the nearest path above it.
  function targetFor(form, path) {
    for (let p = path; p;) {
      const el = form.querySelector(`[data-field="${CSS.escape(p)}"]`);
      if (el) return el;
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (shorter === p) return null;
      p = shorter;
    }
    return null;
  }

  function clearErrors(form) {
    form.querySelectorAll('.field-error').forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid]').forEach((el) => {
      el.removeAttribute('aria-invalid');
      const by = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => !id.startsWith('err-'));
      if (by.length) el.setAttribute('aria-describedby', by.join(' '));
      else el.removeAttribute('aria-describedby');
    });
    const summary = form.querySelector('.errors');
    if (summary) summary.replaceChildren();
  }

  // ---- Views -----------------------------------------------------------

  function setView(title, ...content) {
    closers.forEach((c) => c());
    closers = [];
    document.title = `${title} · Intake console`;
    $main.replaceChildren(...content.flat());
  }

  function failure(err) {
    const errs = err instanceof APIError ? err.errors : [{ message: String(err) }];
    return h('div', { class: 'errors', role: 'alert' }, h('ul', {},
      errs.map((e) => h('li', {}, e.extensions && e.extensions.code ? `${e.extensions.code}: ` : '', e.message))));
  }

  async function route() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [section, id] = hash.split('/');
    if (!apiKey) {
      setView('API key', h('h2', {}, 'API key'),
        h('p', {}, 'Put an API key of your organization into the API key field above. ',
          'It is kept in this tab only (sessionStorage). ',
          h('code', {}, 'intake apikey create --org NAME'), ' creates one; ',
          h('code', {}, 'intake serve --demo'), ' prints one.'));
      return;
    }
    try {
      if (section === 'campaigns' && id) await campaignView(decodeURIComponent(id));
      else if (section === 'campaigns') await campaignsView();
      else if (section === 'do-not-call') await doNotCallView();
      else await integrationsView();
    } catch (err) {
      setView('Error', h('h2', {}, 'Something went wrong'), failure(err));
    }
    // A view shows its first controls before the rest of it loads (runs,
    // pushbacks): focus moved into them meanwhile stays where it is.
    if (!$main.contains(document.activeElement)) $main.focus();
  }

  // Integrations -----------------------------------------------------------

  const integrationFields = 'id name status lastCheckedAt lastError provider { key name }';

  async function integrationsView() {
    const data = await gql(`query {
      providers { key name }
      integrations(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node { ${integrationFields} } } }
    }`);
    const tbody = h('tbody');
    const live = h('p', { role: 'status', class: 'muted' });
    const row = (n) => {
      const tr = h('tr', { dataset: { id: n.id } },
        h('th', { scope: 'row' }, n.name),
        h('td', {}, n.provider.name),
        h('td', {}, badge(n.status)),
        h('td', {}, when(n.lastCheckedAt)),
        h('td', { class: 'bad' }, n.lastError || ''),
        h('td', {}, n.status === 'DISCONNECTED' ? '' : h('button', {
          type: 'button', 'aria-label': `Check ${n.name}`,
          onclick: async (ev) => {
            ev.target.disabled = true;
            live.textContent = `Checking ${n.name}…`;
            try {
              const r = await gql(`mutation($id: ID!) { checkIntegration(id: $id) { ${integrationFields} } }`, { id: n.id });
              const fresh = row(r.checkIntegration);
              tr.replaceWith(fresh);
              live.textContent = `${n.name}: ${r.checkIntegration.status}${r.checkIntegration.lastError ? ` (${r.checkIntegration.lastError})` : ''}`;
              fresh.querySelector('button').focus();
            } catch (err) {
              live.textContent = `${n.name}: ${err.message}`;
              ev.target.disabled = false;
            }
          },
        }, 'Check')));
      return tr;
    };
    data.integrations.edges.forEach((e) => tbody.append(row(e.node)));

    const provider = h('select', {}, data.providers.map((p) => h('option', { value: p.key }, p.name)));
    const name = h('input', { type: 'text', maxlength: '200' });
    const creds = h('textarea', { spellcheck: 'false', placeholder: '{"baseURL": "https://…", "apiKey": "…"}' });
    const form = h('form', { class: 'card', novalidate: true },
      h('h3', {}, 'Connect an integration'),
      h('div', { class: 'errors', role: 'alert' }),
      h('div', { class: 'row' },
        field('Provider', provider, { path: 'input.provider' }),
        field('Name', name, { required: true, path: 'input.name' })),
      field('Credentials (JSON object of strings)', creds, {
        required: true, path: 'input.credentials',
        help: 'Write-only: stored encrypted, never shown again. The keys each provider takes are in docs/providers.md.',
      }),
      h('button', { type: 'submit', class: 'primary' }, 'Connect'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      let credentials;
      try {
        credentials = JSON.parse(creds.value || '{}');
      } catch (e) {
        showErrors(form, [{ message: `not JSON: ${e.message}`, extensions: { code: 'VALIDATION_FAILED', field: 'input.credentials' } }]);
        return;
      }
      try {
        const r = await gql(`mutation($in: ConnectIntegrationInput!) { connectIntegration(input: $in) { ${integrationFields} } }`,
          { in: { provider: provider.value, name: name.value, credentials } });
        clearErrors(form);
        tbody.append(row(r.connectIntegration));
        live.textContent = `${r.connectIntegration.name} connected: ${r.connectIntegration.status}`;
        form.reset();
      } catch (err) {
        showErrors(form, err.errors || [{ message: err.message }]);
      }
    });

    setView('Integrations',
      h('h2', {}, 'Integrations'),
      h('table', {},
        h('caption', { class: 'muted' }, 'Each integration connects your organization to one ATS or CRM account.'),
        h('thead', {}, h('tr', {}, ['Name', 'Provider', 'Status', 'Last checked', 'Last error', ''].map((c) => h('th', { scope: 'col' }, c)))),
        tbody),
      live,
      form);
  }

  // Campaigns --------------------------------------------------------------

  async function campaignsView() {
    const data = await gql(`query {
      campaigns(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node {
        id name phoneRegion createdAt triggers { id enabled integration { name } } } } }
    }`);
    const name = h('input', { type: 'text', maxlength: '200' });
    const region = h('input', { type: 'text', value: 'DE', size: '4', maxlength: '2' });
    const form = h('form', { class: 'card', novalidate: true },
      h('h3', {}, 'New campaign'),
      h('div', { class: 'errors', role: 'alert' }),
      h('div', { class: 'row' },
        field('Name', name, { required: true, path: 'input.name' }),
        field('Phone region', region, { path: 'input.phoneRegion', help: 'ISO 3166-1 alpha-2, for numbers without +country code.' }),
        h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, 'Create'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await gql('mutation($in: CreateCampaignInput!) { createCampaign(input: $in) { id } }',
          { in: { name: name.value, phoneRegion: region.value } });
        location.hash = `#/campaigns/${r.createCampaign.id}`;
      } catch (err) {
        showErrors(form, err.errors || [{ message: err.message }]);
      }
    });
    setView('Campaigns',
      h('h2', {}, 'Campaigns'),
      h('table', {},
        h('thead', {}, h('tr', {}, ['Campaign', 'Region', 'Sources', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, data.campaigns.edges.map(({ node: c }) => h('tr', {},
          h('th', { scope: 'row' }, h('a', { href: `#/campaigns/${c.id}` }, c.name)),
          h('td', {}, c.phoneRegion),
          h('td', {}, c.triggers.length ? c.triggers.map((t) => `${t.integration.name}${t.enabled ? '' : ' (off)'}`).join(', ') : h('span', { class: 'muted' }, 'none')),
          h('td', {}, when(c.createdAt)))))),
      form);
  }

  const triggerFields = `id enabled searchType searchParams description importUnsure pushbackEnabled
    syncIntervalSeconds screening lastSyncAt nextSyncAt integration { id }
    statusMapping { success partial failure notAnswered } references { externalID kind name }`;

  const runFields = `id kind status createdAt startedAt finishedAt fetched imported duplicates invalidPhone
    filteredOut failed screenedOut doNotCall erased total error screening`;

  const pushbackFields = `id status mappedStatus attempts lastError nextAttemptAt deliveredAt updatedAt
    trigger { integration { name } } callResult { outcome calledAt contact { firstName lastName phoneE164 } }`;

  async function campaignView(id) {
    const data = await gql(`query($id: ID!) {
      node(id: $id) { ... on Campaign { id name phoneRegion triggers { ${triggerFields} } } }
      providers { key name supportsPushback supportsStatusMapping referenceKinds
        searchTypes { key name description isDefault fields { key label description type required min max } } }
      integrations(first: 100, orderBy: {field: CREATED_AT, direction: ASC}) { edges { node { id name status provider { key } } } }
    }`, { id });
    const camp = data.node;
    if (!camp || !camp.id) throw new APIError([{ message: `no campaign ${id}` }]);
    const providers = Object.fromEntries(data.providers.map((p) => [p.key, p]));
    const triggers = Object.fromEntries(camp.triggers.map((t) => [t.integration.id, t]));
    // One tab per connected integration, and one per integration that is
    // no longer connected but still has this campaign's trigger.
    const sources = data.integrations.edges.map((e) => e.node)
      .filter((i) => i.status === 'CONNECTED' || triggers[i.id]);

    const panel = h('div', { role: 'tabpanel', id: 'source-panel', tabindex: '0' });
    const tabs = sources.map((integ) => h('button', {
      type: 'button', role: 'tab', id: `tab-${integ.id}`, 'aria-controls': 'source-panel',
      'aria-selected': 'false', tabindex: '-1', dataset: { integration: integ.id },
      onclick: () => select(integ.id, true),
      onkeydown: (ev) => {
        const i = sources.indexOf(integ);
        const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: sources.length - 1 }[ev.key];
        if (to === undefined) return;
        ev.preventDefault();
        select(sources[(to + sources.length) % sources.length].id, true);
      },
    }, integ.name, h('small', {}, tabNote(triggers[integ.id], integ))));
    function tabNote(t, integ) {
      if (integ.status !== 'CONNECTED') return integ.status;
      if (!t) return 'not configured';
      return t.enabled ? 'enabled' : 'disabled';
    }
    function select(integID, focus) {
      tabs.forEach((t) => {
        const on = t.dataset.integration === integID;
        t.setAttribute('aria-selected', String(on));
        t.tabIndex = on ? 0 : -1;
        if (on) {
          panel.setAttribute('aria-labelledby', t.id);
          if (focus) t.focus();
        }
      });
      const integ = sources.find((s) => s.id === integID);
      const prov = providers[integ.provider.key];
      renderSource(panel, camp, integ, prov, triggers[integID], (saved) => {
        triggers[integID] = saved;
        const tab = tabs.find((t) => t.dataset.integration === integID);
        tab.querySelector('small').textContent = tabNote(saved, integ);
      });
    }

    const pushbacks = h('div');
    setView(camp.name,
      h('p', {}, h('a', { href: '#/campaigns' }, 'Campaigns'), ' / '),
      h('h2', {}, camp.name, ' ', h('span', { class: 'muted' }, `(${camp.phoneRegion})`)),
      h('h3', { id: 'sources-title' }, 'Sources'),
      sources.length
        ? h('div', { class: 'sources' },
          h('div', { role: 'tablist', 'aria-orientation': 'vertical', 'aria-labelledby': 'sources-title' }, tabs),
          panel)
        : h('p', {}, 'No connected integration: ', h('a', { href: '#/integrations' }, 'connect one'), ' first.'),
      h('h3', {}, 'Pushbacks'),
      pushbacks);
    if (sources.length) select(sources[0].id, false);
    await pushbacksSection(pushbacks, camp.id);
  }

  // renderSource fills the tab panel of one integration: the trigger's
  // form, its Test Sync and its run history.
  function renderSource(panel, camp, integ, prov, trigger, onSaved) {
    const t = trigger || {
      enabled: false, searchType: (prov.searchTypes.find((s) => s.isDefault) || prov.searchTypes[0]).key,
      searchParams: {}, description: '', importUnsure: true, pushbackEnabled: false,
      syncIntervalSeconds: 900, statusMapping: null, references: [], screening: 'OFF',
    };
    const form = h('form', { novalidate: true, 'aria-label': `Source ${integ.name}` });
    const status = h('p', { role: 'status', class: 'muted' });
    if (integ.status !== 'CONNECTED') {
      append(form, h('p', { class: 'bad' }, `This integration is ${integ.status}: its trigger cannot be enabled.`));
    }

    const enabled = switchControl('Enabled', t.enabled, {
      path: 'input.enabled', help: 'An enabled source syncs at once, then every sync interval.',
    });

    // Search type and its typed fields.
    const searchType = h('select', {}, prov.searchTypes.map((s) => h('option', { value: s.key, selected: s.key === t.searchType }, s.name)));
    const typeHelp = h('p', { class: 'help', id: nextID('help') });
    searchType.setAttribute('aria-describedby', typeHelp.id);
    const paramsBox = h('div', { class: 'grid2' });
    const params = {};
    function renderParams() {
      const st = prov.searchTypes.find((s) => s.key === searchType.value);
      typeHelp.textContent = st.description;
      paramsBox.replaceChildren();
      for (const k of Object.keys(params)) delete params[k];
      for (const f of st.fields) {
        const v = t.searchType === st.key ? t.searchParams[f.key] : undefined;
        let control;
        if (f.type === 'BOOLEAN') {
          control = h('input', { type: 'checkbox', checked: !!v });
        } else if (f.type === 'INT') {
          control = h('input', { type: 'number', step: '1', min: f.min ?? undefined, max: f.max ?? undefined, value: v ?? '' });
        } else {
          control = h('input', { type: 'text', minlength: f.min ?? undefined, maxlength: f.max ?? undefined, value: v ?? '' });
        }
        const bounds = f.min != null || f.max != null ? ` (${f.type === 'STRING' ? 'length ' : ''}${f.min ?? '…'} to ${f.max ?? '…'})` : '';
        params[f.key] = { f, control };
        paramsBox.append(field(f.label, control, { required: f.required, help: f.description + bounds, path: `input.searchParams.${f.key}` }));
      }
    }
    searchType.addEventListener('change', renderParams);
    renderParams();

    const description = h('textarea', { maxlength: '2000' }, t.description);
    const screeningNote = {
      OFF: 'Without a description every record is imported.',
      NOT_CONFIGURED: 'The server has no screening model: the description is saved but not applied.',
      ACTIVE: 'A screening model judges every record against the description; only fitting records are imported.',
    };

    // References: live search in the external system, several selections.
    const selected = new Map(t.references.map((r) => [`${r.kind}:${r.externalID}`, r]));
    const chips = h('ul', { class: 'chips', 'aria-label': 'Selected references' });
    const options = h('ul', { class: 'options', 'aria-label': 'References found' });
    const refStatus = h('p', { class: 'help', role: 'status' });
    function renderChips() {
      chips.replaceChildren(...[...selected.values()].map((r) => h('li', {}, `${r.name || r.externalID} `,
        h('span', { class: 'muted' }, r.kind),
        h('button', {
          type: 'button', 'aria-label': `Remove ${r.name || r.externalID}`,
          onclick: () => { selected.delete(`${r.kind}:${r.externalID}`); renderChips(); syncOptionBoxes(); },
        }, '×'))));
      if (!selected.size) chips.append(h('li', { class: 'muted' }, 'None: records of any reference are imported.'));
    }
    function syncOptionBoxes() {
      options.querySelectorAll('input').forEach((box) => { box.checked = selected.has(box.value); });
    }
    const search = h('input', { type: 'search', placeholder: `Search ${prov.referenceKinds.map((k) => k.toLowerCase()).join(', ')}…` });
    let searchSeq = 0;
    let searchTimer;
    async function runSearch() {
      const seq = ++searchSeq;
      refStatus.textContent = 'Searching…';
      try {
        const r = await gql(`query($id: ID!, $q: String) { availableReferences(integrationID: $id, search: $q, first: 50) {
          items { externalID kind name } nextCursor } }`, { id: integ.id, q: search.value || null });
        if (seq !== searchSeq) return;
        const items = r.availableReferences.items;
        options.replaceChildren(...items.map((it) => {
          const key = `${it.kind}:${it.externalID}`;
          const box = h('input', {
            type: 'checkbox', value: key, checked: selected.has(key),
            onchange: () => { if (box.checked) selected.set(key, it); else selected.delete(key); renderChips(); },
          });
          return h('li', {}, h('label', {}, box, it.name || it.externalID, h('span', { class: 'muted' }, ` ${it.kind}`)));
        }));
        refStatus.textContent = `${items.length}${r.availableReferences.nextCursor ? '+' : ''} found`;
      } catch (err) {
        if (seq === searchSeq) refStatus.textContent = err.message;
      }
    }
    search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 250); });
    renderChips();

    // Push-back and the status mapping.
    const mappingBox = h('div');
    const mapping = {};
    const pushback = prov.supportsPushback ? switchControl('Push call results back', t.pushbackEnabled, {
      path: 'input.pushbackEnabled', onchange: () => renderMapping(),
      help: `Each call's result is written to ${prov.name}. One source of a campaign may push back.`,
    }) : null;
    function renderMapping() {
      mappingBox.replaceChildren();
      if (!pushback || !pushback.input.checked || !prov.supportsStatusMapping) return;
      const m = t.statusMapping || {};
      const rule = h('p', { class: 'help', id: nextID('rule') },
        'Fill in all four statuses, or leave all four empty (then pushbacks set no status).');
      const fs = h('fieldset', { dataset: { field: 'input.statusMapping' }, 'aria-describedby': rule.id },
        h('legend', { class: 'label' }, 'Candidate status mapping'), rule,
        h('div', { class: 'grid2' }, [['success', 'Success'], ['partial', 'Partial'], ['failure', 'Failure'], ['notAnswered', 'Not answered']].map(([k, label]) => {
          mapping[k] = mapping[k] && mappingBox.contains(mapping[k]) ? mapping[k] : h('input', { type: 'text', maxlength: '100', value: m[k] || '' });
          return field(label, mapping[k], { path: `input.statusMapping.${k}` });
        })));
      mappingBox.append(fs);
    }
    renderMapping();

    const interval = h('input', { type: 'number', min: '60', max: '2592000', step: '1', value: t.syncIntervalSeconds });
    const unsure = switchControl('Import records the model cannot judge', t.importUnsure, { path: 'input.importUnsure' });

    append(form,
      h('div', { class: 'errors', role: 'alert' }),
      enabled,
      h('div', { class: 'field', dataset: { field: 'input.searchType' } },
        h('label', { for: (searchType.id = nextID('st')) }, 'Search type'), searchType, typeHelp),
      paramsBox,
      field('General description', description, {
        path: 'input.description',
        help: `Who fits the campaign, in words. Screening: ${t.screening}. ${screeningNote[t.screening] || ''}`,
      }),
      h('div', { class: 'field', dataset: { field: 'input.references' } },
        h('span', { class: 'label', id: nextID('refs') }, 'References'),
        h('div', { class: 'refs' },
          h('div', {}, field(`Search ${prov.name}`, search), refStatus, options),
          h('div', {}, h('span', { class: 'label' }, 'Selected'), chips))),
      pushback,
      mappingBox,
      h('div', { class: 'row' },
        field('Sync interval (seconds)', interval, { path: 'input.syncIntervalSeconds', help: '60 to 2592000.' }),
        unsure),
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      status);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const searchParams = {};
      for (const [k, { f, control }] of Object.entries(params)) {
        if (f.type === 'BOOLEAN') searchParams[k] = control.checked;
        else if (control.value !== '') searchParams[k] = f.type === 'INT' ? Number(control.value) : control.value;
      }
      const input = {
        campaignID: camp.id, integrationID: integ.id, enabled: enabled.input.checked,
        searchType: searchType.value, searchParams, description: description.value,
        references: [...selected.values()].map(({ externalID, kind, name }) => ({ externalID, kind, name })),
        syncIntervalSeconds: interval.value === '' ? null : Number(interval.value),
        importUnsure: unsure.input.checked,
      };
      if (pushback) input.pushbackEnabled = pushback.input.checked;
      if (pushback && pushback.input.checked && prov.supportsStatusMapping) {
        input.statusMapping = Object.fromEntries(Object.entries(mapping).map(([k, el]) => [k, el.value]));
      }
      status.textContent = 'Saving…';
      try {
        const r = await gql(`mutation($in: ConfigureTriggerInput!) { configureTrigger(input: $in) { ${triggerFields} } }`, { in: input });
        onSaved(r.configureTrigger);
        renderSource(panel, camp, integ, prov, r.configureTrigger, onSaved);
        panel.querySelector('[role=status]').textContent = 'Saved.';
      } catch (err) {
        status.textContent = '';
        showErrors(form, err.errors || [{ message: err.message }]);
      }
    });

    panel.replaceChildren(form);
    if (trigger && trigger.enabled) panel.append(testSyncSection(trigger, integ));
    if (trigger) {
      const history = h('section', { 'aria-label': 'Run history' });
      panel.append(history);
      runHistory(history, trigger.id);
    }
  }

  // testSyncSection: a warning, a confirmation, then live progress.
  function testSyncSection(trigger, integ) {
    const dialog = document.getElementById('confirm');
    const progress = h('div', { 'aria-live': 'polite' });
    const button = h('button', {
      type: 'button', onclick: () => {
        document.getElementById('confirm-title').textContent = 'Start a test sync?';
        document.getElementById('confirm-text').textContent =
          `Intake will fetch records from ${integ.name} now and import the new contacts into this campaign.`;
        document.getElementById('confirm-ok').textContent = 'Start test sync';
        dialog.returnValue = '';
        dialog.onclose = () => { if (dialog.returnValue === 'ok') start(); else button.focus(); };
        dialog.showModal();
      },
    }, 'Test sync…');
    async function start() {
      button.disabled = true;
      progress.replaceChildren(h('p', {}, 'Queuing…'));
      let run;
      try {
        run = (await gql(`mutation($id: ID!) { testSync(triggerID: $id) { id status } }`, { id: trigger.id })).testSync;
      } catch (err) {
        progress.replaceChildren(h('p', { class: 'message bad', role: 'alert' }, `Test sync not started: ${err.message}`));
        button.disabled = false;
        return;
      }
      const bar = h('progress', { 'aria-label': 'Test sync progress' });
      const text = h('p', { class: 'muted' });
      progress.replaceChildren(bar, text);
      let last = null;
      subscribe(`subscription($id: ID!) { syncProgress(runID: $id) {
          phase fetched imported duplicates invalidPhone filteredOut failed total done run { id status error } } }`,
      { id: run.id },
      (d) => {
        const p = d.syncProgress;
        last = p;
        if (p.total) { bar.max = p.total; bar.value = p.fetched; }
        text.textContent = `${p.phase}: ${p.fetched}${p.total ? ` of ${p.total}` : ''} fetched, ${p.imported} imported, ` +
          `${p.duplicates} duplicates, ${p.invalidPhone} invalid phone, ${p.filteredOut} filtered out, ${p.failed} failed`;
        if (p.done) { bar.max = 1; bar.value = 1; }
      },
      (errs) => {
        button.disabled = false;
        const st = last && last.run.status;
        let msg;
        if (errs) msg = h('p', { class: 'message bad', role: 'alert' }, `Progress lost: ${errs.map((e) => e.message).join('; ')}`);
        else if (st === 'SUCCEEDED') msg = h('p', { class: 'message ok', role: 'status' }, `Test sync succeeded: ${last.imported} contacts imported.`);
        else msg = h('p', { class: 'message bad', role: 'alert' }, `Test sync ${st ? st.toLowerCase() : 'ended'}${last && last.run.error ? `: ${last.run.error}` : '.'}`);
        progress.append(msg);
        const history = progress.closest('[role=tabpanel]').querySelector('section[aria-label="Run history"]');
        if (history) runHistory(history, trigger.id);
      });
    }
    return h('section', { class: 'card', 'aria-labelledby': 'testsync-title' },
      h('h3', { id: 'testsync-title' }, 'Test Sync'),
      h('div', { class: 'warning', role: 'note' },
        h('strong', {}, 'Real data: '),
        `a test sync makes real requests to ${integ.name} and imports the contacts it finds into this campaign. They may be called.`),
      button, progress);
  }

  const issueCodes = ['MISSING_PHONE', 'INVALID_PHONE', 'UNSUPPORTED_NUMBER_TYPE', 'DUPLICATE', 'FILTERED_OUT',
    'INVALID_RECORD', 'SCREENED_OUT', 'ERASED', 'DO_NOT_CALL'];

  // runHistory (re)renders a trigger's run history. A refresh (a test
  // sync ended) keeps the issues a user opened open, with what they show,
  // and the focus on the toggle that had it.
  async function runHistory(box, triggerID) {
    let runs;
    try {
      const d = await gql(`query($id: ID!) { node(id: $id) { ... on Trigger {
        syncRuns(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { ${runFields} } } } } } }`, { id: triggerID });
      runs = d.node.syncRuns;
    } catch (err) {
      box.replaceChildren(failure(err));
      return;
    }
    const opened = new Map(); // run ID: its issues' cell
    for (const b of box.querySelectorAll('tr[data-run] button[aria-expanded="true"]')) {
      const row = b.closest('tr');
      opened.set(row.dataset.run, row.nextElementSibling.firstChild);
    }
    const focused = document.activeElement && box.contains(document.activeElement) &&
      document.activeElement.closest('tr[data-run]');
    const focusRun = focused ? focused.dataset.run : null;
    let focusTo = null;
    const rows = [];
    for (const { node: r } of runs.edges) {
      const issuesRow = h('tr', { hidden: true }, h('td', { colspan: '6' }));
      const toggle = h('button', {
        type: 'button', 'aria-expanded': 'false', 'aria-label': `Import issues of the run of ${when(r.createdAt)}`,
        onclick: async () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          issuesRow.hidden = !open;
          if (open) await loadIssues(issuesRow.firstChild, r.id);
        },
      }, 'Issues');
      const notImported = r.fetched - r.imported;
      if (opened.has(r.id) && notImported > 0) {
        toggle.setAttribute('aria-expanded', 'true');
        issuesRow.hidden = false;
        issuesRow.firstChild.replaceChildren(...opened.get(r.id).childNodes);
      }
      if (r.id === focusRun && notImported > 0) focusTo = toggle;
      rows.push(h('tr', { dataset: { run: r.id } },
        h('td', {}, when(r.createdAt), h('br'), h('span', { class: 'muted' }, r.kind)),
        h('td', {}, badge(r.status)),
        h('td', {}, `${r.fetched}${r.total != null ? ` of ${r.total}` : ''}`),
        h('td', {}, r.imported),
        h('td', {}, `${r.duplicates} duplicates, ${r.invalidPhone} invalid phone, ${r.filteredOut} filtered out, ` +
          `${r.failed} unreadable, ${r.screenedOut} screened out, ${r.doNotCall} do-not-call, ${r.erased} erased`,
        r.error ? h('div', { class: 'bad' }, r.error) : null),
        h('td', {}, notImported > 0 ? toggle : '')), issuesRow);
    }
    box.replaceChildren(h('h4', {}, `Run history (${runs.totalCount})`),
      runs.edges.length
        ? h('table', {}, h('thead', {}, h('tr', {}, ['Started', 'Status', 'Fetched', 'Imported', 'Not imported', ''].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))
        : h('p', { class: 'muted' }, 'No runs yet.'));
    if (focusTo) focusTo.focus();
  }

  async function loadIssues(cell, runID) {
    cell.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    const counts = issueCodes.map((c) => `${c}: issues(where: {code: ${c}}) { totalCount }`).join('\n');
    try {
      const d = await gql(`query($id: ID!) { node(id: $id) { ... on SyncRun { ${counts}
        list: issues(first: 50) { totalCount edges { node { code externalID message rawPhone } } } } } }`, { id: runID });
      const run = d.node;
      cell.replaceChildren(h('div', { class: 'issues' },
        h('ul', { class: 'counts', 'aria-label': 'Import issues by code' },
          issueCodes.filter((c) => run[c].totalCount > 0).map((c) => h('li', { dataset: { code: c } }, badge(c), ` ${run[c].totalCount}`))),
        h('table', {}, h('thead', {}, h('tr', {}, ['Code', 'Record', 'Message'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, run.list.edges.map(({ node: i }) => h('tr', {}, h('td', {}, i.code), h('td', {}, i.externalID), h('td', {}, i.message))))),
        run.list.totalCount > run.list.edges.length ? h('p', { class: 'muted' }, `First ${run.list.edges.length} of ${run.list.totalCount}.`) : null));
    } catch (err) {
      cell.replaceChildren(failure(err));
    }
  }

  // Pushbacks: the API has no list of a campaign's pushbacks, so they are
  // collected from the call results of its first 100 contacts, then kept
  // current by the campaign's events.
  async function pushbacksSection(box, campaignID) {
    const byID = new Map();
    const live = h('p', { role: 'status', class: 'muted' });
    const tbody = h('tbody');
    // Keeps the newer of two states of a pushback: an event may overtake
    // the list.
    const put = (p) => {
      const had = byID.get(p.id);
      if (!had || had.updatedAt <= p.updatedAt) byID.set(p.id, p);
    };
    // The campaign's events first, then the list: a change after the
    // subscription started arrives as an event, so none is missed.
    await new Promise((started) => {
      subscribe(`subscription($id: ID!) { campaignEvents(campaignID: $id) { __typename ... on Pushback { ${pushbackFields} } } }`,
        { id: campaignID },
        (ev) => {
          const p = ev.campaignEvents;
          if (p.__typename !== 'Pushback') return;
          put(p);
          render();
        },
        (errs) => {
          started();
          delete box.dataset.live;
          if (errs) box.append(h('p', { class: 'bad', role: 'alert' }, `Live updates stopped: ${errs.map((e) => e.message).join('; ')}`));
        },
        () => {
          box.dataset.live = 'on';
          started();
        });
    });
    const d = await gql(`query($id: ID!) { node(id: $id) { ... on Campaign {
      contacts(first: 100) { totalCount edges { node { callResults { pushback { ${pushbackFields} } } } } } } } }`, { id: campaignID });
    for (const { node: c } of d.node.contacts.edges) {
      for (const cr of c.callResults) if (cr.pushback) put(cr.pushback);
    }
    function render() {
      const list = [...byID.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1));
      tbody.replaceChildren(...list.map((p) => {
        const who = p.callResult.contact;
        const name = [who.firstName, who.lastName].filter(Boolean).join(' ') || who.phoneE164 || '(erased)';
        return h('tr', { dataset: { pushback: p.id, status: p.status } },
          h('td', {}, name, h('br'), h('span', { class: 'muted' }, `${p.callResult.outcome}, ${when(p.callResult.calledAt)}`)),
          h('td', {}, p.trigger.integration.name),
          h('td', {}, badge(p.status)),
          h('td', {}, p.mappedStatus || '–'),
          h('td', {}, p.attempts),
          h('td', { class: 'bad' }, p.lastError || ''),
          h('td', {}, p.status === 'DEAD' ? h('button', {
            type: 'button', 'aria-label': `Retry the pushback of ${name}`,
            onclick: async (ev) => {
              ev.target.disabled = true;
              try {
                const r = await gql(`mutation($id: ID!) { retryPushback(id: $id) { ${pushbackFields} } }`, { id: p.id });
                put(r.retryPushback);
                live.textContent = `Pushback of ${name} queued again.`;
                render();
              } catch (err) {
                live.textContent = err.message;
                ev.target.disabled = false;
              }
            },
          }, 'Retry') : ''));
      }));
      if (!list.length) tbody.append(h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No call results pushed back yet.')));
    }
    render();
    box.prepend(h('table', {},
      h('thead', {}, h('tr', {}, ['Contact', 'To', 'Status', 'Mapped status', 'Attempts', 'Last error', ''].map((c) => h('th', { scope: 'col' }, c)))),
      tbody), live);
    if (d.node.contacts.totalCount > 100) {
      live.after(h('p', { class: 'muted' }, 'Pushbacks of the first 100 contacts, and those that change while this page is open.'));
    }
  }

  // Do-not-call ------------------------------------------------------------

  async function doNotCallView() {
    const d = await gql(`query { doNotCallNumbers(first: 100) { totalCount edges { node { id phoneE164 source note createdAt } } } }`);
    const live = h('p', { role: 'status', class: 'muted' });
    const phone = h('input', { type: 'text', placeholder: '+4915112345678', inputmode: 'tel' });
    const note = h('input', { type: 'text', maxlength: '500' });
    const form = h('form', { class: 'card', novalidate: true },
      h('h3', {}, 'Add a number'),
      h('div', { class: 'errors', role: 'alert' }),
      h('div', { class: 'row' },
        field('Number (E.164)', phone, { required: true, path: 'phone' }),
        field('Note', note, { path: 'note', help: 'No personal data.' }),
        h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, 'Add'))));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await gql('mutation($p: String!, $n: String) { addDoNotCall(phone: $p, note: $n) { id } }', { p: phone.value, n: note.value || null });
        await doNotCallView();
      } catch (err) {
        showErrors(form, err.errors || [{ message: err.message }]);
      }
    });
    setView('Do-not-call',
      h('h2', {}, `Do-not-call numbers (${d.doNotCallNumbers.totalCount})`),
      h('p', { class: 'muted' }, 'No sync imports these numbers, and no contact with one of them is callable, in any campaign.'),
      h('table', {},
        h('thead', {}, h('tr', {}, ['Number', 'Source', 'Note', 'Added', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, d.doNotCallNumbers.edges.map(({ node: n }) => h('tr', {},
          h('td', {}, n.phoneE164), h('td', {}, n.source), h('td', {}, n.note || ''), h('td', {}, when(n.createdAt)),
          h('td', {}, h('button', {
            type: 'button', 'aria-label': `Remove ${n.phoneE164}`,
            onclick: async () => {
              try {
                await gql('mutation($p: String!) { removeDoNotCall(phone: $p) }', { p: n.phoneE164 });
                await doNotCallView();
              } catch (err) {
                live.textContent = err.message;
              }
            },
          }, 'Remove')))))),
      live, form);
  }

  // ---- Start -------------------------------------------------------------

  const keyInput = document.getElementById('api-key');
  const keyStatus = document.getElementById('key-status');
  keyInput.value = apiKey;
  keyStatus.textContent = apiKey ? 'Key set for this tab.' : '';
  document.getElementById('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    apiKey = keyInput.value.trim();
    if (apiKey) sessionStorage.setItem(storageKey, apiKey);
    else sessionStorage.removeItem(storageKey);
    keyStatus.textContent = apiKey ? 'Key set for this tab.' : 'No key.';
    route();
  });
  window.addEventListener('hashchange', route);
  route();
})();
