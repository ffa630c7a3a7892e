// The app's words in Simplified Chinese (the default) and English, and local formats for
// dates and money.
import { reviewStatuses, roles } from './pkg/client_wasm.js';
const STRINGS = {
  'zh-CN': {
    appName: '车间巡检', login: '登录', username: '用户名', password: '密码', logout: '退出',
    loginFailed: '用户名或密码错误', tooMany: '尝试次数过多，请稍后再试', offlineLogin: '离线时无法首次登录',
    pickSite: '选择门店', today: '今日例行检查', newWalkaround: '新建车间巡检', history: '检查记录', olderInspections: '更早的检查', loadMore: '加载更多',
    notStarted: '未开始', inProgress: '进行中', submitted: '已提交', start: '开始', resume: '继续', view: '查看',
    docUnavailable: '找不到这份检查，或您没有查看它的权限。', thisTablet: '本机', tablet: '平板 {0}',
    online: '在线', offline: '离线', connecting: '连接中', pending: '待同步', lastSynced: '上次同步', never: '从未',
    general: '通用检查', bays: '工位', rooms: '功能房间', entrances: '入口', occupied: '有在修车辆', empty: '空闲',
    pass: '合格', fail: '不合格', na: '不适用', note: '备注', notePlaceholder: '说明问题…', photo: '拍照', photos: '照片',
    required: '必填', requiredOnFail: '不合格时必须', noteRequired: '需填写备注', photoRequired: '需拍照',
    violations: '违规', noViolations: '暂无违规', fineTotal: '罚款合计', dismissal: '开除审查', replaceTool: '照价赔偿',
    submit: '提交', submitProblems: '提交前请完成：', submittedBy: '提交人', conflict: '答案冲突：请选择保留的答案',
    keep: '保留此答案', by: '记录人', late: '提交后补录', back: '返回', count: '数量', max: '上限', save: '保存',
    savedLocally: '已保存在本机', changeRefused: '服务器拒绝了修改', photoRefused: '照片未上传：这个文件不是照片（只接受 JPEG、PNG、WebP、HEIC）', cadence_daily_opening: '每日开门', cadence_daily_lunch: '每日午休',
    cadence_daily_closing: '每日收工', cadence_weekly: '每周', cadence_ad_hoc: '随时', language: 'English', noDocs: '暂无记录',
    reports: '报表', routines: '例行检查', missedRoutines: '最近 7 天未按时完成的例行检查', due: '截止',
    violationsCount: '项违规', rule: '条款', answered: '已答', notAnswered: '未作答', conflictShort: '答案冲突，请选择',
    refusedTitle: '服务器未接受以下修改，已从本机撤回', dismiss: '知道了', serverSaid: '服务器原话',
    refusedCreate: '新建的「{0}」', refusedSubmit: '提交', refusedOccupied: '「{0}」的占用状态', refusedAnswer: '「{0}」的答案',
    why_role_not_allowed: '未被接受：您现在的角色（{0}）不能作答。', why_template_not_for_role: '未被接受：您现在的角色（{0}）不能进行这类检查。',
    why_not_member_of_site: '未被接受：您已不属于这家门店。', why_forged_author: '未被接受：这条记录记在另一位用户名下。',
    why_submitted: '未被接受：这份检查已经提交。', why_incomplete: '未被接受：所需的答案没有被接受，检查还不能提交。',
    why_document_refused: '未被接受：它所在的检查没有被接受。', why_other: '未被接受。',
    duplicateSubmission: '另由 {by} 于 {at} 提交（重复）',
    readOnly: '此检查由其他岗位作答；你的岗位只查看和审核。',
    alsoHere: '同时在看：',
    occupancy: '占用状态', occupancyConflict: '占用状态冲突：两台平板标记不一致，请选择保留哪一个', occupancyConflictShort: '标记不一致，请选择', keepOccupancy: '保留此状态',
    emptyBayAnswersKept: '此工位已标为空闲：在修车辆的检查项答案仍保留，但在空闲期间不计入违规。',
    removePhoto: '删除照片', progress: '已答 {a} / {n}', submitBlocked: '还有 {n} 项未完成，完成后才能提交',
    confirmSubmit: '提交后答案不能再修改。确认提交？', confirmSubmitYes: '确认提交', cancel: '取消', submittedDone: '已提交',
    // The office's screens.
   
    office: '办公室', violationsTab: '违规', reportsTab: '报表', routinesTab: '例行检查', usersTab: '用户', templatesTab: '模板',
    site: '门店', allSites: '全部门店', from: '从', to: '至', area: '区域', role: '责任岗位', person: '责任人',
    status: '状态', any: '全部', unassigned: '未指定', filter: '筛选', reset: '清除', exportCsv: '导出 CSV', time: '时间',
    item: '检查项', fine: '罚款', recordedBy: '记录人', evidence: '证据', inspection: '所属检查', openInspection: '打开检查',
    acknowledge: '确认', correct: '已整改', waive: '免罚', reopen: '重新打开', reason: '原因', waiveReason: '免罚原因（必填）',
    assign: '指定责任人', trail: '处理记录', prev: '上一页', next: '下一页', page: '第 {a}–{b} 条，共 {n} 条', none: '无',
    month: '月份', perPerson: '按责任人', perRule: '按条款', violationsN: '违规数', finesDue: '应罚金额', waivedN: '已免罚',
    waivedYuan: '免罚金额', total: '合计', trend: '每周趋势', byRule: '按条款', byArea: '按区域', weekOf: '周',
    missedRoutinesAll: '未按时完成的例行检查', missed: '未完成', done: '已完成',  print: '打印报表',
    reportCsv: '报表 CSV', violationsCsv: '违规明细 CSV', schedule: '检查时间表', everyDay: '每天', dueAt: '截止时间',
    weekday: '星期', addRow: '添加', remove: '删除', saved: '已保存', last7: '最近 7 天',
    users: '用户', addUser: '添加用户', displayName: '姓名', firstPassword: '初始密码', sites: '门店', disable: '停用', enable: '启用',
    disabled: '已停用', edit: '编辑', templates: '模板', version: '版本', newTemplate: '新建模板', editJson: '模板内容（JSON）',
    problems: '请修改以下问题：', noRows: '没有符合条件的记录', printed: '打印时间', reportTitle: '月度违规与罚款报表',
    dismissalReviews: '开除审查', toolsToReplace: '照价赔偿', wholeSite: '全场', w1: '周一', w2: '周二', w3: '周三', w4: '周四',
    w5: '周五', w6: '周六', w7: '周日', loadFailed: '加载失败', forbidden: '没有权限',
    clockAhead: '平板时钟快了 {d}：记录时间取服务器收到的时间', days: ' 天', hours: ' 小时', minutes: ' 分钟',
    routine_done: '已完成', routine_missed: '未完成', routine_pending: '待完成',
  },
  en: {
    appName: 'Walkaround', login: 'Log in', username: 'User name', password: 'Password', logout: 'Log out',
    loginFailed: 'Wrong user name or password', tooMany: 'Too many attempts, try again later', offlineLogin: 'The first login needs the network',
    pickSite: 'Choose a site', today: "Today's routines", newWalkaround: 'New workshop walkaround', history: 'History', olderInspections: 'Older inspections', loadMore: 'Load more',
    notStarted: 'Not started', inProgress: 'In progress', submitted: 'Submitted', start: 'Start', resume: 'Resume', view: 'Open',
    docUnavailable: 'This inspection does not exist, or you may not see it.', thisTablet: 'this tablet', tablet: 'tablet {0}',
    online: 'Online', offline: 'Offline', connecting: 'Connecting', pending: 'To sync', lastSynced: 'Last synced', never: 'never',
    general: 'General', bays: 'Bays', rooms: 'Rooms', entrances: 'Entrances', occupied: 'Car under repair', empty: 'Empty',
    pass: 'Pass', fail: 'Fail', na: 'N/A', note: 'Note', notePlaceholder: 'Describe the problem…', photo: 'Take photo', photos: 'Photos',
    required: 'Required', requiredOnFail: 'Required on fail', noteRequired: 'Note needed', photoRequired: 'Photo needed',
    violations: 'Violations', noViolations: 'No violations', fineTotal: 'Fines', dismissal: 'Dismissal review', replaceTool: 'Borrower pays',
    submit: 'Submit', submitProblems: 'Before submitting:', submittedBy: 'Submitted by', conflict: 'Conflicting answers: pick the one that stands',
    keep: 'Keep this answer', by: 'By', late: 'After submission', back: 'Back', count: 'Count', max: 'max', save: 'Save',
    savedLocally: 'Saved on this tablet', changeRefused: 'The server refused a change', photoRefused: 'Photo not uploaded: this file is not a photo (JPEG, PNG, WebP or HEIC only)', cadence_daily_opening: 'Daily, opening', cadence_daily_lunch: 'Daily, lunch',
    cadence_daily_closing: 'Daily, closing', cadence_weekly: 'Weekly', cadence_ad_hoc: 'Any time', language: '中文', noDocs: 'Nothing yet',
    reports: 'Reports', routines: 'Routines', missedRoutines: 'Routines missed in the last 7 days', due: 'due',
    violationsCount: 'violations', rule: 'Rule', answered: 'answered', notAnswered: 'not answered', conflictShort: 'conflicting answers, pick one',
    refusedTitle: 'The server did not accept these changes; they were taken off this tablet', dismiss: 'OK', serverSaid: 'The server said',
    refusedCreate: 'The new “{0}”', refusedSubmit: 'The submission', refusedOccupied: 'The occupancy of “{0}”', refusedAnswer: 'The answer to “{0}”',
    why_role_not_allowed: ' was not accepted: your role now ({0}) may not answer.', why_template_not_for_role: ' was not accepted: your role now ({0}) may not run this kind of inspection.',
    why_not_member_of_site: ' was not accepted: you no longer belong to this site.', why_forged_author: ' was not accepted: it is recorded under another user.',
    why_submitted: ' was not accepted: the inspection is already submitted.', why_incomplete: ' was not accepted: answers it needs were not accepted, so it cannot be submitted yet.',
    why_document_refused: ' was not accepted: the inspection it belongs to was not accepted.', why_other: ' was not accepted.',
    duplicateSubmission: 'also submitted by {by} at {at} (duplicate)',
    readOnly: 'Other roles answer this inspection; yours reads and reviews it.',
    alsoHere: 'Also here:',
    occupancy: 'Occupancy', occupancyConflict: 'Occupancy conflict: two tablets marked this bay differently; pick the one that stands', occupancyConflictShort: 'marked differently, pick one', keepOccupancy: 'Keep this',
    emptyBayAnswersKept: 'This bay is marked empty: the answers for a car under repair are kept but do not count while it is empty.',
    removePhoto: 'Remove photo', progress: '{a} / {n} answered', submitBlocked: '{n} still to do before it can be submitted',
    confirmSubmit: 'Answers cannot be changed after submission. Submit now?', confirmSubmitYes: 'Submit', cancel: 'Cancel', submittedDone: 'Submitted',
    // The office's screens.
   
    office: 'Office', violationsTab: 'Violations', reportsTab: 'Reports', routinesTab: 'Routines', usersTab: 'Users', templatesTab: 'Templates',
    site: 'Site', allSites: 'All sites', from: 'From', to: 'To', area: 'Area', role: 'Responsible role', person: 'Person',
    status: 'Status', any: 'Any', unassigned: 'Unassigned', filter: 'Filter', reset: 'Clear', exportCsv: 'Export CSV', time: 'Time',
    item: 'Item', fine: 'Fine', recordedBy: 'Recorded by', evidence: 'Evidence', inspection: 'Inspection', openInspection: 'Open inspection',
    acknowledge: 'Acknowledge', correct: 'Corrected', waive: 'Waive', reopen: 'Reopen', reason: 'Reason', waiveReason: 'Reason for the waiver (required)',
    assign: 'Responsible person', trail: 'Trail', prev: 'Previous', next: 'Next', page: '{a}–{b} of {n}', none: 'none',
    month: 'Month', perPerson: 'Per person', perRule: 'Per rule', violationsN: 'Violations', finesDue: 'Fines due', waivedN: 'Waived',
    waivedYuan: 'Yuan waived', total: 'Total', trend: 'Weekly trend', byRule: 'By rule', byArea: 'By area', weekOf: 'Week of',
    missedRoutinesAll: 'Routines not done on time', missed: 'Missed', done: 'Done',  print: 'Print report',
    reportCsv: 'Report CSV', violationsCsv: 'Violations CSV', schedule: 'Schedule', everyDay: 'Every day', dueAt: 'Deadline',
    weekday: 'Weekday', addRow: 'Add', remove: 'Remove', saved: 'Saved', last7: 'Last 7 days',
    users: 'Users', addUser: 'Add user', displayName: 'Name', firstPassword: 'First password', sites: 'Sites', disable: 'Disable', enable: 'Enable',
    disabled: 'Disabled', edit: 'Edit', templates: 'Templates', version: 'Version', newTemplate: 'New template', editJson: 'Template (JSON)',
    problems: 'Please fix:', noRows: 'Nothing matches', printed: 'Printed', reportTitle: 'Monthly violations and fines',
    dismissalReviews: 'Dismissal reviews', toolsToReplace: 'Tools to pay for', wholeSite: 'Whole site', w1: 'Mon', w2: 'Tue', w3: 'Wed', w4: 'Thu',
    w5: 'Fri', w6: 'Sat', w7: 'Sun', loadFailed: 'Could not load', forbidden: 'Not allowed',
    clockAhead: 'Tablet clock ahead by {d}: recorded at the time the server received it', days: ' d', hours: ' h', minutes: ' min',
    routine_done: 'Done', routine_missed: 'Missed', routine_pending: 'Pending',
  },
};

export let lang = localStorage.getItem('walkaround.lang') || 'zh-CN';

export function setLang(next) {
  lang = next;
  localStorage.setItem('walkaround.lang', next);
  document.documentElement.lang = next;
}

/**
 * The words for `key` in the current language (Chinese if English lacks them, the key if
 * both do), with `{name}` replaced by `vars.name`.
 */
export function t(key, vars = {}) {
  let text = STRINGS[lang][key] ?? STRINGS['zh-CN'][key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, String(v));
  return text;
}

/** The text of a `{zh, en}` pair in the current language. */
export function local(pair) {
  return pair ? (lang === 'en' ? pair.en : pair.zh) : '';
}

// The workshop's clock is China Standard Time (shared::time::CHINA), whatever the device's
// time zone: dates shown and the calendar day of an instant are read in it.
const CHINA_ZONE = 'Asia/Shanghai';
/** The China calendar day of an instant (ISO text, Date or ms) as `YYYY-MM-DD`. */
export const chinaDay = (value) => new Intl.DateTimeFormat('en-CA', { timeZone: CHINA_ZONE }).format(new Date(value));

export function fmtDate(value) {
  if (!value) return t('never');
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: CHINA_ZONE }).format(new Date(value));
}

export function fmtYuan(amount) {
  return new Intl.NumberFormat(lang, { style: 'currency', currency: 'CNY', maximumFractionDigits: 0 }).format(amount);
}

// ---------------------------------------------------------------- the server's refusals
// Every error the server sends has a stable `reason` (and `params`, the values its sentence
// names; docs/API.md lists them). The app says the sentence of the reason in the user's
// language and never shows the server's English `message`; a reason it does not know yet
// falls back to the sentence of the error's broad `code`, then to a generic one.
const REASONS = {
  'zh-CN': {
    // Broad codes, when no reason is known.
    bad_request: '请求有误，请检查后重试。', unauthorized: '登录已失效，请重新登录。', forbidden: '您没有权限进行此操作。',
    not_found: '找不到要操作的内容。', not_json: '请求格式有误。', not_an_image: '这个文件不是照片（只接受 JPEG、PNG、WebP、HEIC）。',
    invalid_body: '提交的内容有误，请检查后重试。', invalid_fields: '提交的内容有误，请检查后重试。', conflict: '与当前数据冲突，请刷新后重试。',
    rate_limited: '尝试次数过多，请稍后再试。', unavailable: '服务器暂时不可用，请稍后再试。', internal: '服务器出错了，请稍后再试。',
    other: '服务器没有接受这个操作（{status}）。',
    // Reviews and assignment.
    waive_needs_reason: '免罚需要填写原因。', already_in_status: '这条违规已经是「{status}」状态。', no_such_violation: '找不到这条违规。',
    already_assigned: '这条违规已经指定给 {user}。', already_unassigned: '这条违规本来就没有指定责任人。',
    not_user_of_site: '{user} 不是门店 {site} 的用户。',
    // Users.
    user_exists: '用户 {user} 已存在。', invalid_username: '用户名只能使用字母、数字和 - _ .', unknown_role: '没有「{role}」这个岗位。',
    password_too_short: '密码至少需要 {min} 个字符。', no_sites: '请至少选择一家门店。', unknown_site: '没有门店「{site}」。',
    display_name_empty: '姓名不能为空。', no_such_user: '找不到这个用户。', cannot_disable_self: '不能停用自己的账号。',
    // Templates and bodies that do not fit.
    wrong_type: '「{field}」的类型不对。', missing_field: '缺少「{field}」。', unknown_field: '「{field}」不是这里可以填写的字段。',
    unknown_value: '「{field}」的值不在可选范围内。', invalid_value: '「{field}」的值无效。', empty: '「{field}」不能为空。',
    version_below_one: '「{field}」必须从 1 开始。', no_roles: '请至少指定一个执行岗位（{field}）。', no_items: '模板至少需要一个检查项（{field}）。',
    duplicate_item_id: '「{field}」与前面的检查项编号重复。', unknown_rule: '「{field}」不是制度中的条款。',
    fine_not_the_rules: '「{field}」只能是该条款本身的罚款，或不罚款。', not_finite: '「{field}」必须是有限的数字。',
    max_below_min: '「{field}」不能小于下限。', fine_on_item_that_cannot_fail: '「{field}」：不会不合格的检查项不能设置罚款。',
    evidence_on_item_that_cannot_fail: '「{field}」：只有合格/不合格、数量和数值类检查项才能要求不合格证据。',
    template_saved_meanwhile: '有人同时保存了这个模板，请刷新后重试。', invalid_template_id: '模板编号只能使用字母、数字和 - _ .',
    malformed_json: '内容不是有效的 JSON。', nul_in_text: '文字中含有不允许的字符。',
    // Routines.
    unknown_template: '没有模板「{template}」。', template_scheduled_twice: '模板「{template}」只能安排一次。',
    bad_weekday: '星期必须是周一到周日，或每天。', bad_due_minute: '截止时间必须在 00:00 到 23:59 之间。',
    // Filters and reports.
    site_required: '请选择门店。', bad_month: '月份格式应为 年-月（如 2026-03）。', month_out_of_range: '月份超出范围。',
    weeks_out_of_range: '周数必须在 {min} 到 {max} 之间。', bad_date: '日期格式应为 年-月-日。', bad_date_range: '开始日期不能晚于结束日期，且最多相隔 {max_days} 天。',
    bad_time: '时间格式不正确。', bad_limit: '每页条数必须在 1 到 {max} 之间。', bad_offset: '页码不正确。', bad_cursor: '同步位置不正确。',
    unknown_status: '没有「{status}」这个状态。', unknown_headers: 'CSV 表头只能是中文或代码。',
    // Photos.
    empty_body: '上传的内容是空的。', bad_photo_ref: '照片编号不正确。', no_such_blob: '找不到这张照片。',
    // Logins and permissions.
    bad_credentials: '用户名或密码错误。', bad_token: '登录已失效，请重新登录。', session_ended: '登录已结束，请重新登录。',
    missing_token: '请先登录。', malformed_authorization: '请先登录。', unknown_refresh_token: '登录已失效，请重新登录。',
    refresh_token_expired: '登录已过期，请重新登录。', refresh_token_reused: '登录已在别处更新，请重新登录。', user_disabled: '这个账号已停用。',
    too_many_logins: '尝试次数过多，请稍后再试。', not_member_of_site: '您不属于门店「{site}」。',
    role_not_allowed: '您的岗位（{role}）不能进行此操作。', template_not_for_role: '您的岗位（{role}）不能进行这类检查。',
    no_route: '找不到这个页面。',
  },
  en: {
    bad_request: 'The request is not right; check it and try again.', unauthorized: 'Your login has ended; log in again.', forbidden: 'You may not do this.',
    not_found: 'Not found.', not_json: 'The request is not in the expected format.', not_an_image: 'This file is not a photo (JPEG, PNG, WebP or HEIC only).',
    invalid_body: 'Something in what you sent is not right; check it and try again.', invalid_fields: 'Something in what you sent is not right; check it and try again.',
    conflict: 'This conflicts with the current data; reload and try again.', rate_limited: 'Too many attempts, try again later.',
    unavailable: 'The server is not available right now; try again later.', internal: 'The server failed; try again later.',
    other: 'The server did not accept this ({status}).',
    waive_needs_reason: 'A waiver needs a reason.', already_in_status: 'This violation is already {status}.', no_such_violation: 'No such violation.',
    already_assigned: 'This violation is already assigned to {user}.', already_unassigned: 'Nobody is assigned to this violation already.',
    not_user_of_site: '{user} is not a user of site {site}.',
    user_exists: 'A user {user} already exists.', invalid_username: 'A user name may only hold letters, digits and - _ .', unknown_role: 'There is no role “{role}”.',
    password_too_short: 'A password needs at least {min} characters.', no_sites: 'Choose at least one site.', unknown_site: 'There is no site “{site}”.',
    display_name_empty: 'The name must not be empty.', no_such_user: 'No such user.', cannot_disable_self: 'You cannot disable yourself.',
    wrong_type: '{field} has the wrong type.', missing_field: '{field} is missing.', unknown_field: '{field} is not a field here.',
    unknown_value: '{field} is not one of the allowed values.', invalid_value: '{field} is not a valid value.', empty: '{field} must not be empty.',
    version_below_one: '{field} must be 1 or more.', no_roles: 'Name at least one role that runs it ({field}).', no_items: 'A template needs at least one item ({field}).',
    duplicate_item_id: '{field} is used by an earlier item.', unknown_rule: '{field} is not a rule of the regulation.',
    fine_not_the_rules: "{field} must be the rule's own fine, or none.", not_finite: '{field} must be a finite number.',
    max_below_min: '{field} must not be below the minimum.', fine_on_item_that_cannot_fail: '{field}: an item that cannot fail cannot carry a fine.',
    evidence_on_item_that_cannot_fail: '{field}: only pass/fail, count and number items can require evidence on fail.',
    template_saved_meanwhile: 'Someone saved this template at the same time; reload and try again.', invalid_template_id: 'A template id may only hold letters, digits and - _ .',
    malformed_json: 'This is not valid JSON.', nul_in_text: 'The text holds a character that is not allowed.',
    unknown_template: 'There is no template “{template}”.', template_scheduled_twice: 'Template “{template}” may be scheduled only once.',
    bad_weekday: 'The weekday must be Monday to Sunday, or every day.', bad_due_minute: 'The deadline must be between 00:00 and 23:59.',
    site_required: 'Choose a site.', bad_month: 'A month is written YYYY-MM (2026-03).', month_out_of_range: 'The month is out of range.',
    weeks_out_of_range: 'Weeks must be between {min} and {max}.', bad_date: 'A date is written YYYY-MM-DD.', bad_date_range: 'The first day must not be after the last, at most {max_days} days apart.',
    bad_time: 'The time is not right.', bad_limit: 'A page holds 1 to {max} rows.', bad_offset: 'The page is not right.', bad_cursor: 'The sync position is not right.',
    unknown_status: 'There is no status “{status}”.', unknown_headers: 'CSV headers are Chinese or codes.',
    empty_body: 'Nothing was uploaded.', bad_photo_ref: 'The photo reference is not right.', no_such_blob: 'No such photo.',
    bad_credentials: 'Wrong user name or password.', bad_token: 'Your login has ended; log in again.', session_ended: 'Your login has ended; log in again.',
    missing_token: 'Log in first.', malformed_authorization: 'Log in first.', unknown_refresh_token: 'Your login has ended; log in again.',
    refresh_token_expired: 'Your login has expired; log in again.', refresh_token_reused: 'Your login was renewed elsewhere; log in again.', user_disabled: 'This account is disabled.',
    too_many_logins: 'Too many attempts, try again later.', not_member_of_site: 'You do not belong to site “{site}”.',
    role_not_allowed: 'Your role ({role}) may not do this.', template_not_for_role: 'Your role ({role}) may not run this kind of inspection.',
    no_route: 'No such page.',
  },
};

/** Roles by their code, in both languages. */
/** The roles' names by id, from the shared crate (`roles()`; read once the wasm has started). */
let roleNames = null;
/** A role's name in the current language (its code if unknown). */
export const roleName = (r) => {
  roleNames ??= Object.fromEntries(roles().map((x) => [x.id, x.name]));
  return local(roleNames[r]) || r;
};

/**
 * The sentence for a server error body's `error` (`{code, reason, params}`) in the current
 * language. `status` (the HTTP status) only shows in the generic sentence.
 * @param {any} error
 * @param {number | string} [status]
 * @returns {string}
 */
export function explain(error, status = '') {
  const table = REASONS[lang] ?? REASONS['zh-CN'];
  const params = { status, ...(error?.params ?? {}) };
  if (params.role) params.role = roleName(params.role);
  const named = reviewStatuses().find((x) => x.id === params.status);
  // Within a sentence ("already waived"), not a heading: lower case in English.
  if (named) params.status = lang === 'en' ? local(named.name).toLowerCase() : local(named.name);
  let text = table[error?.reason] ?? table[error?.code] ?? table.other;
  for (const [k, v] of Object.entries(params)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** The sentence for one of `error.fields` (`{field, reason, params}`), naming its field. */
export function explainField(f) {
  return explain({ reason: f.reason, params: { field: f.field, ...(f.params ?? {}) } });
}

/**
 * Every sentence of an error: one per field if it lists fields, else its own.
 * @param {any} error
 * @param {number | string} [status]
 * @returns {string[]}
 */
export function explainAll(error, status = '') {
  return error?.fields?.length ? error.fields.map(explainField) : [explain(error, status)];
}

/** The sentence for a failed `Response`, read from its JSON error body if it has one. */
export async function explainResponse(response) {
  const body = await response.json().catch(() => null);
  return explain(body?.error, response.status);
}
