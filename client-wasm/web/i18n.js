// The app's words in Simplified Chinese (the default) and English, and local formats for
// dates and money.
const STRINGS = {
  'zh-CN': {
    appName: '车间巡检', login: '登录', username: '用户名', password: '密码', logout: '退出',
    loginFailed: '用户名或密码错误', tooMany: '尝试次数过多，请稍后再试', offlineLogin: '离线时无法首次登录',
    pickSite: '选择门店', today: '今日例行检查', newWalkaround: '新建车间巡检', history: '检查记录',
    notStarted: '未开始', inProgress: '进行中', submitted: '已提交', start: '开始', resume: '继续', open: '查看',
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
  },
  en: {
    appName: 'Walkaround', login: 'Log in', username: 'User name', password: 'Password', logout: 'Log out',
    loginFailed: 'Wrong user name or password', tooMany: 'Too many attempts, try again later', offlineLogin: 'The first login needs the network',
    pickSite: 'Choose a site', today: "Today's routines", newWalkaround: 'New workshop walkaround', history: 'History',
    notStarted: 'Not started', inProgress: 'In progress', submitted: 'Submitted', start: 'Start', resume: 'Resume', open: 'Open',
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
  },
};

export let lang = localStorage.getItem('walkaround.lang') || 'zh-CN';

export function setLang(next) {
  lang = next;
  localStorage.setItem('walkaround.lang', next);
  document.documentElement.lang = next;
}

export function t(key) {
  return STRINGS[lang][key] ?? STRINGS['zh-CN'][key] ?? key;
}

/** The text of a `{zh, en}` pair in the current language. */
export function local(pair) {
  return pair ? (lang === 'en' ? pair.en : pair.zh) : '';
}

export function fmtDate(value) {
  if (!value) return t('never');
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(value));
}

export function fmtYuan(amount) {
  return new Intl.NumberFormat(lang, { style: 'currency', currency: 'CNY', maximumFractionDigits: 0 }).format(amount);
}
