// The office's screens, in the same app: violations with filters, evidence and review;
// monthly reports with a weekly trend, CSV and a print page; routine schedules and missed
// routines; users; templates. Everything here is online (the office works at a desk); the
// server enforces every permission, the screens only hide what a role cannot do.
import { may, reviewActions, reviewStatuses, roles } from './pkg/client_wasm.js';
import { t, local, lang, fmtDate, fmtYuan, explain, explainAll, explainField, roleName, chinaDay } from './i18n.js';

/** A duration in its two largest units (days, hours, minutes), in the current language. */
function fmtDuration(ms) {
  const total = Math.max(1, Math.round(ms / 60_000));
  const units = [[Math.floor(total / 1440), t('days')], [Math.floor((total % 1440) / 60), t('hours')], [total % 60, t('minutes')]];
  return units.filter(([n]) => n > 0).slice(0, 2).map(([n, unit]) => `${n}${unit}`).join(' ');
}

/** Roles that see the office screens (the server's reviewing roles). */
/** Every role's id, in the shared crate's order (`roles()`). */
const roleIds = () => roles().map((r) => r.id);
/** Whether the signed-in user may take `action` (`shared::policy::Action`), as the server decides. */
export const userMay = (user, action) => may(user, action, undefined);

/**
 * What the app lends the office screens (app.js `officeEnv`).
 * @typedef {object} OfficeEnv
 * @property {(tag: string, attrs?: object, ...children: any[]) => any} h
 * @property {(path: string, options?: RequestInit) => Promise<Response>} authFetch
 * @property {() => any} user
 * @property {() => any[]} sites
 * @property {() => any[]} templates
 * @property {(text: string) => void} toast
 * @property {(sha: string) => HTMLElement} photoElement
 * @property {() => void} render
 */
/** @type {OfficeEnv} */
let env;
let regulation = null;
const people = new Map(); // site -> [{id, display_name, role}]

/** HTTP with the session's token; returns {status, body} and never throws on a status. */
async function call(method, path, body) {
  // The app's authorised fetch: one token refresh shared with every other caller.
  const r = await env.authFetch(path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = r.headers.get('content-type') || '';
  return { status: r.status, body: type.includes('json') ? await r.json() : await r.blob() };
}
async function get(path) {
  const { status, body } = await call('GET', path);
  if (status !== 200) throw new Error(`${t('loadFailed')}: ${explain(body?.error, status)}`);
  return body;
}
/** Downloads a CSV export (the browser cannot send the token with a plain link). */
async function download(path, filename) {
  const { status, body } = await call('GET', path);
  if (status !== 200) { env.toast(`${t('loadFailed')}: ${explain(body?.error, status)}`); return; }
  const a = env.h('a', { href: URL.createObjectURL(body), download: filename });
  document.body.append(a);
  a.click();
  a.remove();
}
async function ensureRegulation() {
  if (!regulation) regulation = (await (await fetch('/api/v1/regulation')).json()).rules;
  return regulation;
}
async function sitePeople(site) {
  if (!people.has(site)) people.set(site, (await get(`/api/v1/people?site=${encodeURIComponent(site)}`)).people);
  return people.get(site);
}
const siteName = (id) => env.sites().find((s) => s.id === id)?.name ?? id;
const areaName = (siteId, areaId) => {
  if (!areaId) return t('wholeSite');
  const area = env.sites().find((s) => s.id === siteId)?.areas.find((a) => a.id === areaId);
  return area ? local(area.name) : areaId;
};
const itemText = (templateId, itemId) => {
  const item = env.templates().find((tpl) => tpl.id === templateId)?.items.find((i) => i.id === itemId);
  return item ? local(item.text) : itemId;
};
const ruleTitle = (id) => local(regulation?.find((r) => r.id === id)?.title) || '';
const fineText = (v) => (v.fine_type === 'yuan' ? fmtYuan(v.fine_yuan) : v.fine_type === 'dismissal_review' ? t('dismissal') : v.fine_type === 'replace_tool' ? t('replaceTool') : '—');
/** `text` cut to `n` characters, ending in "…" when cut (for <option>s, which CSS cannot clip). */
const clip = (text, n) => ([...text].length > n ? `${[...text].slice(0, n - 1).join('')}…` : text);
/** The review statuses from the shared crate (`reviewStatuses()`), by id. */
let statuses = null;
const statusInfo = (s) => (statuses ??= new Map(reviewStatuses().map((x) => [x.id, x]))).get(s);
const statusName = (s) => local(statusInfo(s)?.name) || s;
/** A status as a chip; its colour is the stylesheet's, by `data-status`. */
const statusChip = (s) => env.h('span', { class: 'chip status', 'data-status': s }, statusName(s));
const thisMonth = () => chinaDay(Date.now()).slice(0, 7);
const select = (name, value, options) => env.h('select', { name },
  options.map(([v, label]) => env.h('option', { value: v, selected: String(v) === String(value ?? '') }, label)));
const params = (query) => Object.fromEntries(new URLSearchParams(query));
const go = (path, query) => {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString();
  location.hash = `#/office/${path}${q ? `?${q}` : ''}`;
};

/** Replaces an element's children, skipping absent (null) ones. */
const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));

// ---------------------------------------------------------------- shell
/** @type {{ key: string | null, el: HTMLElement | null }} */
let mounted = { key: null, el: null };

/**
 * The office view for `route` (`office/...`); the same element while the route stays.
 * @param {string} route
 * @param {OfficeEnv} environment
 */
export function officeView(route, environment) {
  env = environment;
  if (mounted.key === `${lang}|${route}`) return mounted.el;
  const [path, query = ''] = route.slice('office/'.length).split('?');
  const { h } = env;
  const tabs = [['violations', 'violationsTab'], ['reports', 'reportsTab'], ['routines', 'routinesTab']];
  if (userMay(env.user(), 'manage_users')) tabs.push(['users', 'usersTab'], ['templates', 'templatesTab']);
  const body = h('div', { class: 'office-body' }, h('p', { class: 'loading' }, t('connecting')));
  const el = h('div', { class: 'office', 'data-testid': `office-${path}` },
    path === 'print' ? null : h('nav', { class: 'tabs' }, h('button', { onclick: () => { location.hash = '#/'; } }, `← ${t('back')}`),
      tabs.map(([p, key]) => h('button', { class: p === path ? 'primary' : '', onclick: () => go(p, {}) }, t(key)))),
    body);
  mounted = { key: `${lang}|${route}`, el };
  const screens = { violations: violationsScreen, reports: reportsScreen, print: printScreen, routines: routinesScreen, users: usersScreen, templates: templatesScreen };
  (screens[path] ?? violationsScreen)(params(query), body).catch((e) => {
    fill(body, h('p', { class: 'problems' }, String(e.message || e)));
  });
  return el;
}

/** Forgets the mounted view so the next render fetches afresh. */
export function refreshOffice() {
  mounted = { key: null, el: null };
  env?.render();
}

// ---------------------------------------------------------------- violations
const PAGE = 25;

async function violationsScreen(q, body) {
  const { h } = env;
  await ensureRegulation();
  const site = q.site ?? (env.sites().length === 1 ? env.sites()[0].id : '');
  const who = site ? await sitePeople(site) : [];
  const areas = site ? env.sites().find((s) => s.id === site)?.areas ?? [] : [];
  const form = h('form', { class: 'filters card', onsubmit: (e) => {
    e.preventDefault();
    go('violations', { ...Object.fromEntries(new FormData(form)), offset: 0 });
  } },
  h('label', {}, t('site'), select('site', site, [['', t('allSites')], ...env.sites().map((s) => [s.id, s.name])])),
  h('label', {}, t('from'), h('input', { type: 'date', name: 'from', value: q.from ?? '' })),
  h('label', {}, t('to'), h('input', { type: 'date', name: 'to', value: q.to ?? '' })),
  h('label', {}, t('rule'), select('rule', q.rule, [['', t('any')], ...regulation.map((r) => [r.id, `${r.id} ${clip(local(r.title), 14)}`])])),
  h('label', {}, t('area'), select('area', q.area, [['', t('any')], ...areas.map((a) => [a.id, local(a.name)])])),
  h('label', {}, t('role'), select('role', q.role, [['', t('any')], ...roleIds().map((r) => [r, roleName(r)])])),
  h('label', {}, t('person'), select('person', q.person, [['*', t('any')], ['', t('unassigned')], ...who.map((p) => [p.id, p.display_name])])),
  h('label', {}, t('status'), select('status', q.status, [['', t('any')], ...reviewStatuses().map((s) => [s.id, local(s.name)])])),
  h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', 'data-testid': 'apply-filters' }, t('filter')),
    h('button', { type: 'button', onclick: () => go('violations', {}) }, t('reset'))));
  if (q.person === undefined) form.person.value = '*';
  const query = new URLSearchParams();
  for (const key of ['site', 'from', 'to', 'rule', 'area', 'role', 'status']) if (q[key]) query.set(key, q[key]);
  if (q.person !== undefined && q.person !== '*') query.set('person', q.person);
  const offset = Number(q.offset || 0);
  const list = await get(`/api/v1/violations?${query}&limit=${PAGE}&offset=${offset}`);
  const rows = list.violations.map((v) => {
    const row = h('tr', { class: 'clickable', 'data-key': `${v.doc_id}/${v.answer_key}`, onclick: () => toggleDetail(row, v) },
      h('td', { class: 'nowrap' }, fmtDate(v.recorded_at)),
      h('td', { class: 'nowrap' }, h('strong', {}, v.rule_id), ' ', h('span', { class: 'muted clip', title: ruleTitle(v.rule_id) }, ruleTitle(v.rule_id))),
      h('td', {}, itemText(v.template_id, v.item_id)),
      h('td', { class: 'nowrap' }, areaName(v.site_id, v.area_id)),
      h('td', { class: 'nowrap' }, v.responsible_name ?? h('span', { class: 'muted' }, t('unassigned')), h('div', { class: 'muted' }, roleName(v.responsible_role))),
      h('td', { class: 'nowrap' }, `${fineText(v)}${v.occurrences > 1 ? ` ×${v.occurrences}` : ''}`),
      h('td', { class: 'nowrap' }, statusChip(v.status)));
    return row;
  });
  const pager = h('div', { class: 'row spread' },
    h('span', { class: 'muted', 'data-testid': 'total' }, list.total ? t('page', { a: offset + 1, b: offset + list.violations.length, n: list.total_exact ? list.total : `${list.total}+` }) : t('noRows')),
    h('div', { class: 'row' },
      h('button', { disabled: offset === 0, onclick: () => go('violations', { ...q, offset: Math.max(0, offset - PAGE) }) }, t('prev')),
      h('button', { disabled: offset + PAGE >= list.total && list.total_exact, onclick: () => go('violations', { ...q, offset: offset + PAGE }) }, t('next')),
      h('button', { 'data-testid': 'export-violations', onclick: () => download(`/api/v1/violations.csv?${query}`, 'violations.csv') }, t('exportCsv'))));
  fill(body, form, h('div', { class: 'card table-wrap' },
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, [t('time'), t('rule'), t('item'), t('area'), t('person'), t('fine'), t('status')].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows)), pager));
  // The violation whose detail was open stays open after an action redraws the list
  // (issue 20, item 15), with what the action changed.
  const open = rows.find((row) => row.dataset.key === openDetail);
  if (open) toggleDetail(open, list.violations[rows.indexOf(open)]);
}

/** The violation (`doc/answer key`) whose detail panel is open. */
let openDetail = null;
async function toggleDetail(row, v) {
  const { h } = env;
  if (row.nextSibling?.classList?.contains('detail')) { row.nextSibling.remove(); openDetail = null; return; }
  openDetail = row.dataset.key;
  const cell = h('td', { colspan: 7 }, t('connecting'));
  const detail = h('tr', { class: 'detail', 'data-testid': 'violation-detail' }, cell);
  row.after(detail);
  const path = `/api/v1/violations/${encodeURIComponent(v.doc_id)}/${encodeURIComponent(v.answer_key)}`;
  const [trail, who] = await Promise.all([get(`${path}/reviews`), sitePeople(v.site_id)]);
  // People by name, never by login id (issue 20, item 11); an id no longer known stays an id.
  const nameOf = (id) => (id ? who.find((p) => p.id === id)?.display_name ?? id : t('none'));
  const evidence = v.evidence.map((e) => {
    const photos = h('div', { class: 'photos' }, e.photos.map(env.photoElement));
    return h('div', { class: 'card evidence-card' },
      h('div', {}, h('strong', {}, e.value?.type === 'fail' ? t('fail') : JSON.stringify(e.value?.value ?? e.value?.type)), ' · ',
        `${t('recordedBy')} ${nameOf(e.by)}${e.device ? ` · ${t('tablet').replace('{0}', e.device.slice(-4))}` : ''} · ${fmtDate(e.at)}${e.late ? ` · ${t('late')}` : ''}`),
      e.note ? h('p', { class: 'note' }, e.note) : null, photos);
  });
  const reason = h('input', { name: 'reason', placeholder: t('waiveReason'), 'data-testid': 'waive-reason' });
  const review = async (action) => {
    const { status, body } = await call('POST', `${path}/review`, { action, reason: reason.value });
    if (status !== 200) { env.toast(explain(body?.error, status)); return; }
    env.toast(statusName(body.status));
    refreshOffice();
  };
  const canReview = userMay(env.user(), 'review');
  // The steps this user may take from this status (shared::review::offered).
  const offered = reviewActions(env.user(), v.site_id, v.status);
  const actions = offered.length ? h('div', { class: 'row' }, offered.map((action) => (action === 'waive'
    ? h('div', { class: 'row waive' }, reason, h('button', { onclick: () => review(action), 'data-testid': action }, t(action)))
    : h('button', { onclick: () => review(action), 'data-testid': action }, t(action))))) : null;
  const assign = canReview ? h('label', { class: 'row' }, t('assign'),
    h('select', { 'data-testid': 'assign', onchange: async (e) => {
      const { status, body } = await call('PUT', `${path}/responsible`, { user_id: e.target.value || null });
      if (status !== 200) { env.toast(explain(body?.error, status)); return; }
      refreshOffice();
    } }, h('option', { value: '' }, t('unassigned')), who.filter((p) => !p.disabled).map((p) =>
      h('option', { value: p.id, selected: p.id === v.responsible_user }, `${p.display_name} (${roleName(p.role)})`)))) : null;
  const history = [
    ...trail.reviews.map((r) => ({ at: r.at, text: `${nameOf(r.user_id)}: ${statusName(r.status_before)} → ${statusName(r.status_after)}${r.reason ? ` · ${r.reason}` : ''}` })),
    ...trail.assignments.map((a) => ({ at: a.at, text: `${nameOf(a.user_id)}: ${t('person')} ${nameOf(a.before_user)} → ${nameOf(a.after_user)}` })),
  ].sort((a, b) => a.at - b.at);
  fill(cell, 
    h('div', { class: 'row spread' }, h('h3', {}, `${v.rule_id} ${ruleTitle(v.rule_id)}`),
      h('a', { class: 'button', href: `#/inspect/${v.doc_id}` }, t('openInspection'))),
    h('p', { class: 'muted' }, `${siteName(v.site_id)} · ${areaName(v.site_id, v.area_id)} · ${itemText(v.template_id, v.item_id)}`),
    v.clock_ahead_ms ? h('p', { class: 'chip amber', 'data-testid': 'clock-ahead' }, t('clockAhead', { d: fmtDuration(v.clock_ahead_ms) })) : null,
    h('h4', {}, t('evidence')), h('div', {}, evidence), assign, actions,
    h('h4', {}, t('trail')), history.length ? h('ul', { 'data-testid': 'trail' }, history.map((x) => h('li', {}, `${fmtDate(x.at)} ${x.text}`))) : h('p', { class: 'muted' }, t('none')));
}

// ---------------------------------------------------------------- reports
function reportQuery(q) {
  const query = new URLSearchParams({ month: q.month || thisMonth() });
  if (q.site) query.set('site', q.site);
  return query;
}

function reportTables(report) {
  const { h } = env;
  const tally = (x) => [x.violations, fmtYuan(x.fine_yuan), x.waived, fmtYuan(x.waived_yuan)];
  const head = (first) => h('thead', {}, h('tr', {}, [first, t('violationsN'), t('finesDue'), t('waivedN'), t('waivedYuan')].map((c) => h('th', {}, c))));
  return [
    h('h3', {}, t('perPerson')),
    h('table', { class: 'list', 'data-testid': 'per-person' }, head(t('person')), h('tbody', {},
      report.people.map((p) => h('tr', { 'data-person': p.user_id ?? '' }, h('td', {}, p.display_name ?? t('unassigned')), tally(p).map((c) => h('td', {}, String(c)))))),
    h('tfoot', {}, h('tr', {}, h('th', {}, t('total')), tally(report.total).map((c) => h('th', {}, String(c)))))),
    h('h3', {}, t('perRule')),
    h('table', { class: 'list', 'data-testid': 'per-rule' }, head(t('rule')), h('tbody', {},
      report.rules.map((r) => h('tr', {}, h('td', {}, h('strong', {}, r.rule_id), ' ', h('span', { class: 'clip', title: ruleTitle(r.rule_id) }, ruleTitle(r.rule_id))), tally(r.tally).map((c) => h('td', {}, String(c))))))),
    report.total.dismissal_reviews || report.total.tools_to_replace ? h('p', {},
      `${t('dismissalReviews')}: ${report.total.dismissal_reviews} · ${t('toolsToReplace')}: ${report.total.tools_to_replace}`) : null,
    h('h3', {}, t('missedRoutinesAll')),
    h('table', { class: 'list' }, h('tbody', {}, report.routines.map((r) => h('tr', {},
      h('td', {}, siteName(r.site)), h('td', {}, local(env.templates().find((x) => x.id === r.template_id)?.name) || r.template_id),
      h('td', {}, h('span', { class: `chip ${r.missed ? 'red' : 'green'}` }, `${t('missed')} ${r.missed}`)))))),
  ];
}

/** A stacked bar chart of violations per week, as SVG (no chart library needed). */
function trendChart(trend) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs = {}, ...children) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    el.append(...children);
    return el;
  };
  const colors = ['#1f4e79', '#b3261e', '#1e7b34', '#a15c00', '#6a1b9a', '#00838f', '#5f6b76', '#c2185b'];
  const series = Object.entries(trend.by_rule).sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0));
  const top = series.slice(0, 7);
  const rest = series.slice(7);
  if (rest.length) top.push([lang === 'en' ? 'other' : '其他', trend.weeks.map((_, i) => rest.reduce((s, [, v]) => s + v[i], 0))]);
  const totals = trend.weeks.map((_, i) => top.reduce((s, [, v]) => s + v[i], 0));
  const max = Math.max(1, ...totals);
  const [W, H, left, bottom] = [720, 260, 36, 40];
  const bw = (W - left - 10) / trend.weeks.length;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H + 30}`, class: 'chart', role: 'img', 'data-testid': 'trend-chart' });
  for (let g = 0; g <= 4; g++) {
    const y = H - bottom - ((H - bottom - 10) * g) / 4;
    chart.append(svg('line', { x1: left, x2: W, y1: y, y2: y, stroke: '#e0e4e8' }), svg('text', { x: 4, y: y + 4, 'font-size': 12, fill: '#5f6b76' }, String(Math.round((max * g) / 4))));
  }
  trend.weeks.forEach((week, i) => {
    let y = H - bottom;
    top.forEach(([key, values], s) => {
      const hgt = ((H - bottom - 10) * values[i]) / max;
      if (values[i]) {
        chart.append(svg('rect', { x: left + i * bw + 3, y: y - hgt, width: bw - 6, height: hgt, fill: colors[s % colors.length] },
          svg('title', {}, `${key}: ${values[i]} (${week})`)));
      }
      y -= hgt;
    });
    chart.append(svg('text', { x: left + i * bw + bw / 2, y: H - bottom + 16, 'font-size': 11, 'text-anchor': 'middle', fill: '#5f6b76' }, week.slice(5)));
  });
  top.forEach(([key], s) => {
    chart.append(svg('rect', { x: left + s * 85, y: H + 2, width: 12, height: 12, fill: colors[s % colors.length] }),
      svg('text', { x: left + s * 85 + 16, y: H + 13, 'font-size': 12 }, key));
  });
  return chart;
}

async function reportsScreen(q, body) {
  const { h } = env;
  await ensureRegulation();
  const query = reportQuery(q);
  const trendQuery = q.site ? `site=${encodeURIComponent(q.site)}&` : '';
  const [report, trend] = await Promise.all([get(`/api/v1/reports/monthly?${query}`), get(`/api/v1/reports/trend?${trendQuery}weeks=12`)]);
  const form = h('form', { class: 'filters card', onsubmit: (e) => { e.preventDefault(); go('reports', Object.fromEntries(new FormData(form))); } },
    h('label', {}, t('month'), h('input', { type: 'month', name: 'month', value: report.month })),
    h('label', {}, t('site'), select('site', q.site, [['', t('allSites')], ...env.sites().map((s) => [s.id, s.name])])),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit' }, t('filter')),
      h('button', { type: 'button', 'data-testid': 'export-report', onclick: () => download(`/api/v1/reports/monthly.csv?${query}`, `report-${report.month}.csv`) }, t('reportCsv')),
      h('button', { type: 'button', onclick: () => {
        const [y, m] = report.month.split('-').map(Number);
        const to = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
        const v = new URLSearchParams({ from: `${report.month}-01`, to });
        if (q.site) v.set('site', q.site);
        download(`/api/v1/violations.csv?${v}`, `violations-${report.month}.csv`);
      } }, t('violationsCsv')),
      h('button', { type: 'button', 'data-testid': 'print-report', onclick: () => go('print', { month: report.month, site: q.site }) }, t('print'))));
  const areaRows = Object.entries(trend.by_area).map(([area, counts]) => h('tr', {},
    h('td', {}, area ? areaName(q.site || env.sites()[0]?.id, area) : t('wholeSite')), counts.map((c) => h('td', {}, c ? String(c) : '·'))));
  fill(body, form,
    h('div', { class: 'card', 'data-testid': 'report' }, reportTables(report)),
    h('div', { class: 'card' }, h('h3', {}, `${t('trend')} · ${t('byRule')}`), trendChart(trend),
      h('h3', {}, `${t('trend')} · ${t('byArea')}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list compact' },
        h('thead', {}, h('tr', {}, h('th', {}, t('area')), trend.weeks.map((wk) => h('th', {}, wk.slice(5))))), h('tbody', {}, areaRows)))));
}

async function printScreen(q, body) {
  const { h } = env;
  await ensureRegulation();
  const report = await get(`/api/v1/reports/monthly?${reportQuery(q)}`);
  fill(body, h('article', { class: 'print-page', 'data-testid': 'print-page' },
    h('div', { class: 'row spread no-print' }, h('button', { onclick: () => go('reports', q) }, `← ${t('back')}`), h('button', { class: 'primary', onclick: () => window.print() }, t('print'))),
    h('h1', {}, `${t('reportTitle')} · ${report.month}`),
    h('p', {}, `${report.sites.map(siteName).join('、')} · ${t('printed')} ${fmtDate(Date.now())}`),
    reportTables(report),
    h('p', { class: 'signatures' }, `${lang === 'en' ? 'Prepared by' : '制表'}: ____________    ${lang === 'en' ? 'Approved by' : '审核'}: ____________`)));
}

// ---------------------------------------------------------------- routines
async function routinesScreen(q, body) {
  const { h } = env;
  const site = q.site || env.sites()[0]?.id;
  const [schedule, status] = await Promise.all([
    get(`/api/v1/routines?site=${encodeURIComponent(site)}`),
    get(`/api/v1/routines/status?site=${encodeURIComponent(site)}`),
  ]);
  const templates = env.templates();
  const rows = h('tbody', {});
  const addRow = (s = { template_id: templates[0]?.id, weekday: null, due_minute: 18 * 60 }) => {
    const hhmm = `${String(Math.floor(s.due_minute / 60)).padStart(2, '0')}:${String(s.due_minute % 60).padStart(2, '0')}`;
    const tr = h('tr', {},
      h('td', {}, select('template_id', s.template_id, templates.map((x) => [x.id, local(x.name)]))),
      h('td', {}, select('weekday', s.weekday ?? '', [['', t('everyDay')], ...[1, 2, 3, 4, 5, 6, 7].map((d) => [d, t(`w${d}`)])])),
      h('td', {}, h('input', { type: 'time', name: 'due', value: hhmm })),
      h('td', {}, h('button', { type: 'button', onclick: () => tr.remove() }, t('remove'))));
    rows.append(tr);
  };
  schedule.schedule.forEach(addRow);
  const problems = h('div', { class: 'problems', role: 'alert' });
  const canEdit = userMay(env.user(), 'edit_template');
  const save = async () => {
    const entries = [...rows.children].map((tr) => {
      const [hh, mm] = tr.querySelector('[name=due]').value.split(':').map(Number);
      const weekday = tr.querySelector('[name=weekday]').value;
      return { template_id: tr.querySelector('[name=template_id]').value, weekday: weekday ? Number(weekday) : null, due_minute: hh * 60 + mm };
    });
    const { status, body: res } = await call('PUT', `/api/v1/routines?site=${encodeURIComponent(site)}`, { schedule: entries });
    if (status === 200) { env.toast(t('saved')); refreshOffice(); return; }
    problems.replaceChildren(h('p', {}, t('problems')), h('ul', {}, explainAll(res?.error, status).map((text) => h('li', {}, text))));
  };
  const occurrences = status.occurrences.slice().reverse();
  fill(body,
    env.sites().length > 1 ? h('div', { class: 'card' }, h('label', {}, t('site'), select('site', site, env.sites().map((s) => [s.id, s.name])))) : null,
    h('div', { class: 'card', 'data-testid': 'routine-status' }, h('h3', {}, `${t('last7')} · ${t('missed')} ${status.missed}`),
      h('table', { class: 'list' }, h('tbody', {}, occurrences.map((o) => h('tr', { 'data-status': o.status },
        h('td', {}, o.date), h('td', {}, local(templates.find((x) => x.id === o.template_id)?.name) || o.template_id),
        h('td', {}, `${t('dueAt')} ${fmtDate(o.due_at)}`),
        h('td', {}, h('span', { class: `chip ${o.status === 'done' ? 'green' : o.status === 'missed' ? 'red' : 'amber'}` }, t(`routine_${o.status}`)),
          o.submitted_at ? h('span', { class: 'muted' }, ` ${o.submitted_by} ${fmtDate(o.submitted_at)}`) : null)))))),
    h('div', { class: 'card' }, h('h3', {}, t('schedule')),
      h('table', { class: 'list' }, h('thead', {}, h('tr', {}, [t('templatesTab'), t('weekday'), t('dueAt'), ''].map((c) => h('th', {}, c)))), rows),
      canEdit ? h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => addRow() }, t('addRow')), h('button', { class: 'primary', onclick: save }, t('save'))) : null,
      problems));
  body.querySelector('select[name=site]')?.addEventListener('change', (e) => go('routines', { site: e.target.value }));
}

// ---------------------------------------------------------------- users
async function usersScreen(q, body) {
  const { h } = env;
  const { users } = await get('/api/v1/users');
  const problems = h('div', { class: 'problems', role: 'alert' });
  const siteBoxes = (chosen = []) => h('div', { class: 'row' }, env.sites().map((s) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'sites', value: s.id, checked: chosen.includes(s.id) }), s.name)));
  const showError = (res, status) => problems.replaceChildren(h('p', {}, t('problems')),
    h('ul', { 'data-testid': 'user-problems' }, explainAll(res?.error, status).map((text) => h('li', {}, text))));
  const form = h('form', { class: 'card filters', onsubmit: async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const { status, body: res } = await call('POST', '/api/v1/users', {
      username: data.get('username'), display_name: data.get('display_name') || undefined, password: data.get('password'),
      role: data.get('role'), sites: data.getAll('sites'),
    });
    if (status === 201) { env.toast(t('saved')); refreshOffice(); } else showError(res, status);
  } },
  h('h3', {}, t('addUser')),
  h('label', {}, t('username'), h('input', { name: 'username', required: true })),
  h('label', {}, t('displayName'), h('input', { name: 'display_name' })),
  h('label', {}, t('firstPassword'), h('input', { name: 'password', type: 'password', minlength: 8, required: true })),
  h('label', {}, t('role'), select('role', roleIds().at(-1), roleIds().map((r) => [r, roleName(r)]))),
  siteBoxes(env.sites().length === 1 ? [env.sites()[0].id] : []),
  h('button', { class: 'primary', type: 'submit' }, t('addUser')), problems);
  const row = (u) => {
    const edit = async () => {
      const tr = body.querySelector(`tr[data-user="${u.id}"]`);
      const name = tr.querySelector('[name=display_name]').value;
      const role = tr.querySelector('[name=role]').value;
      const sites = [...tr.querySelectorAll('[name=sites]:checked')].map((x) => x.value);
      const { status, body: res } = await call('PATCH', `/api/v1/users/${u.id}`, { display_name: name, role, sites });
      if (status === 200) { env.toast(t('saved')); refreshOffice(); } else showError(res, status);
    };
    const toggle = async () => {
      const { status, body: res } = await call('POST', `/api/v1/users/${u.id}/${u.disabled ? 'enable' : 'disable'}`);
      if (status === 200) refreshOffice(); else showError(res, status);
    };
    return h('tr', { 'data-user': u.id, class: u.disabled ? 'disabled' : '' },
      h('td', {}, u.username), h('td', {}, h('input', { name: 'display_name', value: u.display_name })),
      h('td', {}, select('role', u.role, roleIds().map((r) => [r, roleName(r)]))), h('td', {}, siteBoxes(u.sites)),
      h('td', {}, h('button', { onclick: edit }, t('save')), ' ', h('button', { onclick: toggle, 'data-testid': `toggle-${u.id}` }, u.disabled ? t('enable') : t('disable'))));
  };
  fill(body, form, h('div', { class: 'card table-wrap' }, h('table', { class: 'list' },
    h('thead', {}, h('tr', {}, [t('username'), t('displayName'), t('role'), t('sites'), ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, users.map(row)))));
}

// ---------------------------------------------------------------- templates
async function templatesScreen(q, body) {
  const { h } = env;
  const { templates } = await (await fetch('/api/v1/templates')).json();
  const problems = h('div', { class: 'problems', role: 'alert', 'data-testid': 'template-problems' });
  const editor = h('textarea', { class: 'json', rows: 24, spellcheck: false, 'data-testid': 'template-json' });
  const chosen = templates.find((x) => x.id === q.id);
  editor.value = JSON.stringify(chosen ?? { ...templates[0], id: 'my-template', name: { zh: '新模板', en: 'New template' } }, null, 2);
  const save = async () => {
    let parsed;
    try { parsed = JSON.parse(editor.value); } catch (e) { problems.replaceChildren(h('p', {}, explain({ reason: 'malformed_json' })), h('p', { class: 'muted' }, e.message)); return; }
    const { status, body: res } = await call('PUT', `/api/v1/templates/${encodeURIComponent(parsed.id)}`, parsed);
    if (status === 200) { env.toast(`${t('saved')} · ${t('version')} ${res.template.version}`); go('templates', { id: parsed.id }); refreshOffice(); return; }
    problems.replaceChildren(h('p', {}, t('problems')), h('ul', {}, res?.error?.fields?.length
      ? res.error.fields.map((f) => h('li', { 'data-field': f.field }, explainField(f)))
      : h('li', {}, explain(res?.error, status))));
  };
  fill(body, 
    h('div', { class: 'card' }, h('table', { class: 'list' }, h('thead', {}, h('tr', {}, [t('templatesTab'), 'id', t('version'), ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, templates.map((x) => h('tr', {}, h('td', {}, local(x.name)), h('td', {}, h('code', {}, x.id)), h('td', {}, String(x.version)),
        h('td', {}, h('button', { onclick: () => go('templates', { id: x.id }) }, t('edit')))))))),
    h('div', { class: 'card' }, h('h3', {}, chosen ? `${t('edit')} ${local(chosen.name)}` : t('newTemplate')), h('p', { class: 'muted' }, t('editJson')),
      editor, problems, h('button', { class: 'primary', onclick: save, 'data-testid': 'save-template' }, t('save'))));
}
